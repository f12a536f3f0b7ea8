"""The distill stage's objective from its config: the loss and the schedules.

`alpha` and `temperature` set to `auto` are replaced by the numbers the run
chose (`kdkeras.pipeline.distill_settings.resolved_distill`, with
`with_chosen_settings`) before the functions here read them.
"""

from kdkeras.config.distillation import ScheduleSection
from kdkeras.config.stages import AUTO


def compile_arguments(distill, steps_per_epoch):
    """`Distiller.compile`'s `distillation_loss_fn`, `alpha` and `temperature`.

    The loss is built from the registry (`kdkeras.losses.get`) with its
    configured arguments; the temperature (a number or a schedule) goes to
    `compile`, whose objective passes it to the loss at every step. With
    `distill.temperature` null, the loss's own temperature is used.

    Args:
        distill: The `distill` section of a `RunConfig`.
        steps_per_epoch: Training batches per epoch, to turn a schedule's
            epochs into steps.

    Returns:
        A dict of keyword arguments for `Distiller.compile`.

    Raises:
        ValueError: If `alpha` or `temperature` is still `auto`.
    """
    from kdkeras import losses

    _check_chosen(distill)
    return {
        "distillation_loss_fn": losses.get(distill.loss_name, **distill.loss_arguments),
        "alpha": _value(distill.alpha, steps_per_epoch, distill.epochs),
        "temperature": _value(distill.temperature, steps_per_epoch, distill.epochs),
    }


def _value(setting, steps_per_epoch, epochs):
    if isinstance(setting, ScheduleSection):
        return setting.build(steps_per_epoch, epochs)
    return setting


def final_value(setting):
    """The number a setting ends at: itself, or its schedule's last value."""
    if isinstance(setting, ScheduleSection):
        return setting.final_value()
    return setting


def optimize_arguments(distill):
    """`alpha` and `temperature` of the optimize stage's KD: the values the
    distillation ended with (the optimizer's default temperature when the
    distillation had none; `auto` must have been replaced by the choice)."""
    from kdkeras.distillation.objective import DEFAULT_TEMPERATURE

    _check_chosen(distill)
    temperature = final_value(distill.temperature)
    return {
        "alpha": final_value(distill.alpha),
        "temperature": DEFAULT_TEMPERATURE if temperature is None else temperature,
    }


def with_chosen_settings(distill, alpha, temperature):
    """`distill` with its `auto` keys set to the chosen `alpha` and
    `temperature` (the others kept as configured)."""
    chosen = {"alpha": alpha, "temperature": temperature}
    return distill.model_copy(update={key: chosen[key] for key in distill.auto_keys})


def _check_chosen(distill):
    if distill.auto_keys:
        key = distill.auto_keys[0]
        raise ValueError(
            f"distill.{key} is {AUTO!r}: replace it by the run's choice first "
            "(kdkeras.pipeline.distill_settings.resolved_distill)."
        )
