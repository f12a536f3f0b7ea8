"""What the stages of one `kdkeras run` share: the `RunContext` (config, run
folder, data, log, the models made so far), the names of the models each
stage makes, and a fresh student."""

import dataclasses
import logging

import keras

from kdkeras.pipeline import model_setup, run_data, training_augmentation
from kdkeras.pipeline.training import stage_callbacks

MODEL_NAMES = {
    "teacher": "teacher",
    "scratch": "student_scratch",
    "distill": "student_distilled",
    "optimize": "student_optimized",
}
"""The model each stage makes, saved as `models/<name>.keras`."""


REPORT_ROWS = {
    "teacher": "teacher",
    "student_scratch": "student (scratch)",
    "student_distilled": "student (distilled)",
    "student_optimized": "student (optimized)",
}
"""The report row of each model of the run."""


@dataclasses.dataclass
class RunContext:
    """What the stages of one run share.

    Attributes:
        config: The `RunConfig`.
        folder: The `RunFolder`.
        data: The `RunData`.
        log: The logger of the run.
        extra_callbacks: Keras callbacks added to every training stage.
        models: Model name (`MODEL_NAMES`) → Keras model, as stages make them.
        tflite: Report row name → `.tflite` path, as stages write them.
        gate_sample: `(x, y, split_name)` the gates score on
            (`kdkeras.pipeline.gates.split_sample`), once drawn.
        shipped_student: The model name (`MODEL_NAMES`) of the student the
            device package holds, once the gates chose it.
    """

    config: object
    folder: object
    data: object
    log: logging.Logger
    extra_callbacks: tuple = ()
    models: dict = dataclasses.field(default_factory=dict)
    tflite: dict = dataclasses.field(default_factory=dict)
    gate_sample: tuple | None = None
    shipped_student: str | None = None

    def callbacks(self, stage, checks=()):
        return stage_callbacks(
            self.folder,
            stage,
            self.config.run.tensorboard,
            self.extra_callbacks,
            checks,
        )

    def training_batches(self, batch_size):
        return run_data.batched(
            self.data.train, batch_size, shuffle=True, seed=self.config.run.seed
        )

    def student_batches(self, batch_size, epochs):
        """`(dataset, steps_per_epoch)` of a student's training: augmented
        views of images in memory when `augmentation` is set
        (`steps_per_epoch` then keeps one iterator over the epochs' views),
        else the shuffled batches (an image folder's are augmented by
        `training_augmentation.batch_augmentation`)."""
        if self.config.augmentation is None or not self.data.in_memory:
            return self.training_batches(batch_size), None
        return training_augmentation.augmented_array_batches(
            self.config, self.data.train, batch_size, epochs
        )

    def validation_batches(self, batch_size):
        if self.data.validation is None:
            return None
        return run_data.batched(self.data.validation, batch_size)

    def decide(self, stage, message, **numbers):
        """Logs and records a choice the run made, with its evidence."""
        self.log.info("  decision: %s", message)
        self.folder.add_finding(stage, "decision", message, **numbers)

    def warn(self, stage, message, **numbers):
        """Logs and records a result worse than it should be; the report and
        the command line's last lines repeat it (`kdkeras run --strict`
        turns it into a non-zero exit)."""
        self.log.warning("  WARNING: %s", message)
        self.folder.add_finding(stage, "warning", message, **numbers)

    def save_model(self, stage, model):
        """Saves `model` as `models/<name>.keras` (atomically); its artifacts."""
        from kdkeras.io_utils import atomic_path

        path = self.folder.model_path(MODEL_NAMES[stage])
        with atomic_path(path, overwrite=True) as temporary_path:
            model.save(temporary_path)
        self.models[MODEL_NAMES[stage]] = model
        return {"model": path}

    def final_student_name(self):
        """The model name of the student to deploy: the one the gates chose
        (`kdkeras.pipeline.gates.choose_shipped_student`), else the distilled one,
        else the scratch one."""
        if self.shipped_student is not None:
            return self.shipped_student
        if "student_distilled" in self.models:
            return "student_distilled"
        return "student_scratch"

    def final_student(self):
        """The student to deploy (`final_student_name`)."""
        return self.models[self.final_student_name()]


def new_student(context, name):
    """A fresh student of the run's `student` section, from the seed both
    students share: the scratch and the distilled one start equal."""
    keras.utils.set_random_seed(context.config.run.seed + 1)
    data = context.data
    return model_setup.build_configured_student(
        context.config.student,
        data.input_shape,
        data.num_classes,
        name,
        tokenizer=data.tokenizer,
    )
