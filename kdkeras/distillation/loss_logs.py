"""What a `Distiller` logs besides the compiled metrics: its loss terms.

`student_loss` and `distillation_loss` in training; `feature_loss` with
`features`; `alpha` and `temperature` when they follow a schedule (their
value at each step). Evaluation logs the student loss alone, as
`student.evaluate` would. Values are logged unscaled by the distribution
strategy (`kdkeras.compat.unscale_loss_for_distribution`).
"""

import keras

from kdkeras import compat


class LossLogs:
    """Mixin of `Distiller`: its loss trackers and which of them it shows.

    The model sets `_objective` (a `DistillationObjective` or `None`),
    `features` and `_evaluating`.
    """

    def _create_loss_trackers(self):
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self.alpha_tracker = keras.metrics.Mean(name="alpha")
        self.temperature_tracker = keras.metrics.Mean(name="temperature")
        self.feature_loss_tracker = keras.metrics.Mean(name="feature_loss")

    @property
    def metrics(self):
        scheduled = self._objective.scheduled if self._objective else ()
        hidden = [
            tracker
            for name, tracker in (
                ("alpha", self.alpha_tracker),
                ("temperature", self.temperature_tracker),
                ("features", self.feature_loss_tracker),
            )
            if name not in (*scheduled, *(("features",) if self.features else ()))
            or self._evaluating
        ]
        if self._evaluating:
            hidden += [self.student_loss_tracker, self.distillation_loss_tracker]
        return [metric for metric in super().metrics if metric not in hidden]

    def _log_losses(self, batch_size, **losses):
        """Logs each of `student`, `distillation`, `feature` given, unscaled."""
        trackers = {
            "student": self.student_loss_tracker,
            "distillation": self.distillation_loss_tracker,
            "feature": self.feature_loss_tracker,
        }
        for name, value in losses.items():
            trackers[name].update_state(
                compat.unscale_loss_for_distribution(value), sample_weight=batch_size
            )

    def _log_scheduled(self, alpha, temperature):
        """Logs this step's `alpha` and `temperature` if they are scheduled."""
        for name, tracker, value in (
            ("alpha", self.alpha_tracker, alpha),
            ("temperature", self.temperature_tracker, temperature),
        ):
            if name in self._objective.scheduled:
                tracker.update_state(value)
