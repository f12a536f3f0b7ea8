"""Callbacks the Distiller adds to `fit`."""

import math

import keras


class NonFiniteLossError(ValueError):
    """Raised when a training step's loss is NaN or infinite."""


class RaiseOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops `fit` with a clear error at the first non-finite loss.

    `keras.callbacks.TerminateOnNaN` stops quietly; a distillation that blew up
    should fail loudly and say which term did it. The check runs on the host,
    so it also works with `jit_compile=True`.
    """

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        terms = ", ".join(
            f"{name}={float(logs[name]):.4g}"
            for name in ("student_loss", "distillation_loss")
            if name in logs
        )
        raise NonFiniteLossError(
            f"The distillation loss became non-finite at batch {batch} "
            f"(loss={float(loss)}, {terms}). Check the inputs and the teacher "
            "outputs for NaN or infinite values, lower the learning rate, or "
            "clip gradients (e.g. `optimizer=keras.optimizers.Adam(clipnorm=1.0)`)."
        )
