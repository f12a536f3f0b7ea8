"""Schedules of `alpha` and `temperature` over the training steps.

A schedule maps the training step (0 for the first batch) to a value, with
`keras.ops`, so it runs inside the training step on every backend:

```python
distiller.compile(
    optimizer="adam",
    alpha=kdkeras.distillation.schedules.Linear(1.0, 0.1, steps=2000),
    temperature=kdkeras.distillation.schedules.Cosine(8.0, 2.0, steps=10_000),
)
```

Scheduled values are logged as `alpha` and `temperature` (their mean over the
epoch). Every schedule is serializable; `get` turns a number into `Constant`
and any other callable of the step into `FunctionSchedule`.
"""

import math

import keras
from keras import ops

from kdkeras.validation import check_positive_int


class Schedule:
    """Base class: `schedule(step)` returns the value at a training step."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


def _check_number(value, argument_name):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"`{argument_name}` must be a number. Received: "
            f"{argument_name}={value!r} of type {type(value)}"
        )
    if not math.isfinite(value):
        raise ValueError(
            f"`{argument_name}` must be finite. Received: {argument_name}={value}"
        )
    return float(value)


def _check_steps(steps):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"`steps` must be a positive integer. Received: steps={steps!r}"
        )
    return steps


@keras.saving.register_keras_serializable(package="kdkeras")
class Constant(Schedule):
    """The same value at every step.

    Args:
        value: The value, a finite number.
    """

    def __init__(self, value):
        self.value = _check_number(value, "value")

    def __call__(self, step):
        return self.value

    def get_config(self):
        return {"value": self.value}


class _Interpolation(Schedule):
    def __init__(self, start, end, steps):
        self.start = _check_number(start, "start")
        self.end = _check_number(end, "end")
        self.steps = check_positive_int(steps, "steps")

    def _progress(self, step):
        step = ops.cast(step, "float32")
        return ops.clip(step / float(self.steps), 0.0, 1.0)

    def get_config(self):
        return {"start": self.start, "end": self.end, "steps": self.steps}


@keras.saving.register_keras_serializable(package="kdkeras")
class Linear(_Interpolation):
    """From `start` to `end` in a straight line over `steps`, then `end`.

    `value(step) = start + (end − start) · min(step / steps, 1)`

    Args:
        start: The value at step 0.
        end: The value from step `steps` on.
        steps: The number of steps of the change, a positive integer.
    """

    def __call__(self, step):
        return self.start + (self.end - self.start) * self._progress(step)


@keras.saving.register_keras_serializable(package="kdkeras")
class Cosine(_Interpolation):
    """From `start` to `end` along half a cosine over `steps`, then `end`.

    `value(step) = end + (start − end) · (1 + cos(π · min(step / steps, 1))) / 2`
    (the shape of `keras.optimizers.schedules.CosineDecay`).

    Args:
        start: The value at step 0.
        end: The value from step `steps` on.
        steps: The number of steps of the change, a positive integer.
    """

    def __call__(self, step):
        cosine = (1.0 + ops.cos(math.pi * self._progress(step))) / 2.0
        return self.end + (self.start - self.end) * cosine


@keras.saving.register_keras_serializable(package="kdkeras")
class FunctionSchedule(Schedule):
    """Any function of the step, written with `keras.ops`.

    Saved by name: register the function with
    `keras.saving.register_keras_serializable` to reload it.

    Args:
        fn: A callable `fn(step) -> value`; `step` is an integer tensor.
    """

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"`fn` must be callable. Received: fn={fn!r}")
        self.fn = fn

    def __call__(self, step):
        return self.fn(step)

    def get_config(self):
        return {"fn": keras.saving.serialize_keras_object(self.fn)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["fn"]))


def get(identifier, argument_name="schedule"):
    """A `Schedule` from a number, a schedule, its config or a callable.

    Args:
        identifier: A number (→ `Constant`), a `Schedule`, a serialized
            schedule (a dict from `keras.saving.serialize_keras_object`), or a
            callable of the step (→ `FunctionSchedule`).
        argument_name: The argument named in errors (e.g. `"alpha"`).
    """
    if isinstance(identifier, Schedule):
        return identifier
    if isinstance(identifier, dict):
        schedule = keras.saving.deserialize_keras_object(identifier)
        if isinstance(schedule, Schedule):
            return schedule
    elif isinstance(identifier, (int, float)) and not isinstance(identifier, bool):
        return Constant(identifier)
    elif callable(identifier):
        return FunctionSchedule(identifier)
    raise TypeError(
        f"`{argument_name}` must be a number, a kdkeras schedule or a callable "
        f"of the step. Received: {argument_name}={identifier!r}"
    )


def is_constant(schedule):
    """Whether `schedule` has one value (a `Constant`)."""
    return isinstance(schedule, Constant)
