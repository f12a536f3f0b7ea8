"""The loss a `Distiller` minimizes, resolved from `compile` arguments."""

import inspect

import keras
from keras import ops

from kdkeras import losses
from kdkeras.distillation import schedules
from kdkeras.losses.functional import check_temperature

DEFAULT_ALPHA = 0.1
"""The default weight of the student loss on the labels."""

DEFAULT_TEMPERATURE = 3.0
"""The default softening temperature."""


def _check_alpha(alpha):
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(
            "`alpha` must be a number in [0, 1]. "
            f"Received: alpha={alpha!r} of type {type(alpha)}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1]. Received: alpha={alpha}")


def _takes_logits_flag(loss):
    """The `from_logits` setting of a Keras cross-entropy, or `None`.

    Read from the loss's config, or, for a plain function such as
    `keras.losses.sparse_categorical_crossentropy`, from its default.
    """
    if isinstance(loss, losses.FunctionLoss):
        parameter = _signature_parameters(loss.fn).get("from_logits")
        if parameter is None or parameter.default is inspect.Parameter.empty:
            return None
        return parameter.default
    return loss.get_config().get("from_logits")


def _signature_parameters(fn):
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}


def _resolve_student_loss(student_loss_fn):
    if student_loss_fn is None:
        return losses.LabelCrossEntropy()
    if isinstance(student_loss_fn, str):
        student_loss_fn = keras.losses.get(student_loss_fn)
    if not isinstance(student_loss_fn, keras.losses.Loss):
        if not callable(student_loss_fn):
            raise TypeError(
                "`student_loss_fn` must be a `keras.losses.Loss`, a loss name "
                f"or a callable. Received: student_loss_fn={student_loss_fn!r}"
            )
        student_loss_fn = losses.FunctionLoss(student_loss_fn)
    if _takes_logits_flag(student_loss_fn) is False:
        raise ValueError(
            "`student_loss_fn` expects probabilities (`from_logits=False`), but "
            "the student outputs logits. Pass e.g. "
            "`keras.losses.SparseCategoricalCrossentropy(from_logits=True)`, or "
            "leave it `None` for `kdkeras.losses.LabelCrossEntropy()`. "
            f"Received: student_loss_fn={student_loss_fn!r}"
        )
    return student_loss_fn


def _resolve_distillation_loss(distillation_loss_fn, temperature):
    """Returns `(loss, takes_probabilities, temperature)`.

    The objective owns the temperature: `temperature` when given (a number; a
    schedule's first value), else a kdkeras loss instance's own, else
    `DEFAULT_TEMPERATURE`. It is passed to the loss at call time.
    """
    if temperature is not None:
        check_temperature(temperature)
    if distillation_loss_fn is None:
        distillation_loss_fn = "kd"
    if isinstance(distillation_loss_fn, str) and (
        distillation_loss_fn in losses.registered_names()
    ):
        _logits_method(losses.registered_class(distillation_loss_fn))
        distillation_loss_fn = losses.get(distillation_loss_fn)
        if distillation_loss_fn.uses_temperature and temperature is None:
            temperature = DEFAULT_TEMPERATURE
    elif isinstance(distillation_loss_fn, str):
        try:
            distillation_loss_fn = keras.losses.get(distillation_loss_fn)
        except ValueError:
            raise ValueError(
                "Unknown `distillation_loss_fn`. Expected a kdkeras loss name "
                f"{losses.registered_names('logits')} or a Keras loss name. "
                f"Received: distillation_loss_fn={distillation_loss_fn!r}"
            ) from None
    elif isinstance(distillation_loss_fn, dict):
        distillation_loss_fn = _logits_method(losses.get(distillation_loss_fn))
    else:
        distillation_loss_fn = _logits_method(distillation_loss_fn)

    if isinstance(distillation_loss_fn, losses.DistillationLoss):
        if not distillation_loss_fn.uses_temperature:
            if temperature is not None:
                raise ValueError(
                    f"{type(distillation_loss_fn).__name__} takes no temperature, "
                    "so `temperature` would be ignored. Remove it or use the "
                    f"'kd' loss. Received: temperature={temperature}"
                )
            return distillation_loss_fn, False, None
        if temperature is None:
            temperature = getattr(
                distillation_loss_fn, "temperature", DEFAULT_TEMPERATURE
            )
        return distillation_loss_fn, False, float(temperature)
    if isinstance(distillation_loss_fn, keras.losses.Loss):
        loss = distillation_loss_fn
    elif callable(distillation_loss_fn):
        loss = losses.FunctionLoss(distillation_loss_fn)
    else:
        raise TypeError(
            "`distillation_loss_fn` must be a loss name, a config, a "
            "`keras.losses.Loss` or a callable. "
            f"Received: distillation_loss_fn={distillation_loss_fn!r}"
        )
    temperature = DEFAULT_TEMPERATURE if temperature is None else temperature
    return loss, True, float(temperature)


def _logits_method(method):
    """`method` (or its class), refused if it is of kind `"features"`."""
    if losses.method_kind(method) == "features":
        name = (method if isinstance(method, type) else type(method)).__name__
        raise ValueError(
            f"{name} is a feature distillation method (kind "
            "'features'): give it to `Distiller(features=[...])`. "
            "`distillation_loss_fn` takes a method of kind 'logits', one of "
            f"{losses.registered_names('logits')}. "
            f"Received: distillation_loss_fn={method!r}"
        )
    return method


class DistillationObjective:
    """`alpha · student_loss + (1 − alpha) · distillation_loss` of a batch.

    Kdkeras losses get logits. Any other Keras loss is taken to compare
    probabilities, as in the keras.io example: it gets
    `softmax(teacher_logits / T)` and `softmax(student_logits / T)` and its
    value is scaled by `T²` (Hinton et al., 2015). A Keras cross-entropy with
    `from_logits=True` gets the softened student logits `student_logits / T`.

    `alpha` and `temperature` may be schedules of the training step
    (`kdkeras.distillation.schedules`); `at(step)` gives their values.

    The objective is the one owner of the temperature: a kdkeras loss gets it
    at call time (`loss(t, s, temperature=T)`), so a loss instance's own
    `temperature` only counts when `temperature` is `None`, and a schedule
    reaches the loss step by step without copying or changing it.

    Args:
        student_loss_fn: Loss of student logits against labels, or `None`.
        distillation_loss_fn: Loss of student against teacher, or `None`.
        alpha: Weight in [0, 1] of the student loss, or a schedule of it.
        temperature: `T > 0`, a schedule of it, or `None` for the loss
            instance's own, or 3.
    """

    def __init__(
        self,
        student_loss_fn=None,
        distillation_loss_fn=None,
        alpha=DEFAULT_ALPHA,
        temperature=None,
    ):
        self.alpha_schedule = None
        if _is_schedule(alpha):
            self.alpha_schedule = _checked_schedule(alpha, "alpha", _check_alpha)
            alpha = float(self.alpha_schedule(0))
        _check_alpha(alpha)
        self.alpha = float(alpha)
        self.temperature_schedule = None
        if _is_schedule(temperature):
            self.temperature_schedule = _checked_schedule(
                temperature, "temperature", check_temperature
            )
            temperature = float(self.temperature_schedule(0))
        self.student_loss_fn = _resolve_student_loss(student_loss_fn)
        (
            self.distillation_loss_fn,
            self._takes_probabilities,
            self.temperature,
        ) = _resolve_distillation_loss(distillation_loss_fn, temperature)

    @property
    def scheduled(self):
        """The names of the scheduled values, e.g. `("alpha",)`."""
        return tuple(
            name
            for name, schedule in (
                ("alpha", self.alpha_schedule),
                ("temperature", self.temperature_schedule),
            )
            if schedule is not None
        )

    def at(self, step):
        """`(alpha, temperature)` at a training step (`step` may be a tensor)."""
        alpha, temperature = self.alpha, self.temperature
        if self.alpha_schedule is not None:
            alpha = self.alpha_schedule(step)
        if self.temperature_schedule is not None:
            temperature = self.temperature_schedule(step)
        return alpha, temperature

    def student_loss(self, labels, student_logits, sample_weight=None):
        return self.student_loss_fn(labels, student_logits, sample_weight)

    def distillation_loss(
        self,
        teacher_logits,
        student_logits,
        sample_weight=None,
        labels=None,
        temperature=None,
    ):
        """The distillation term, `T²`-scaled where the loss does not do it.

        Args:
            teacher_logits: The teacher's logits.
            student_logits: The student's logits.
            sample_weight: Optional per-example weights.
            labels: The labels, for a loss with `uses_labels` (e.g. DKD).
            temperature: The temperature of this step, when it is scheduled
                (the objective's own when `None`); passed to the loss.
        """
        loss_fn = self.distillation_loss_fn
        if temperature is None:
            temperature = self.temperature
        if not self._takes_probabilities:
            if loss_fn.uses_labels:
                teacher_logits = (teacher_logits, labels)
            if loss_fn.uses_temperature:
                return loss_fn(
                    teacher_logits,
                    student_logits,
                    sample_weight,
                    temperature=temperature,
                )
            return loss_fn(teacher_logits, student_logits, sample_weight)
        teacher_probs = ops.softmax(teacher_logits / temperature, axis=-1)
        student_outputs = student_logits / temperature
        if not _takes_logits_flag(loss_fn):
            student_outputs = ops.softmax(student_outputs, axis=-1)
        value = loss_fn(teacher_probs, student_outputs, sample_weight)
        return (temperature**2) * value

    def combine(self, student_loss, distillation_loss, alpha=None):
        alpha = self.alpha if alpha is None else alpha
        return alpha * student_loss + (1.0 - alpha) * distillation_loss

    def get_config(self):
        return {
            "student_loss_fn": self.student_loss_fn,
            "distillation_loss_fn": self.distillation_loss_fn,
            "alpha": self.alpha_schedule or self.alpha,
            "temperature": self.temperature_schedule or self.temperature,
        }


def _is_schedule(value):
    return isinstance(value, (schedules.Schedule, dict)) or (
        callable(value) and not isinstance(value, (int, float))
    )


def _checked_schedule(value, argument_name, check):
    """`value` as a schedule whose known end points pass `check`."""
    schedule = schedules.get(value, argument_name)
    config = schedule.get_config()
    for key in ("value", "start", "end"):
        if key in config:
            try:
                check(config[key])
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"The schedule of `{argument_name}` reaches a value it "
                    f"cannot take: {error} Received: {argument_name}={schedule!r}"
                ) from None
    return schedule
