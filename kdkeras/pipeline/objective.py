"""The distill stage's objective from its config: the loss and the schedules."""

from kdkeras.config.distillation import ScheduleSection


def compile_arguments(distill, steps_per_epoch):
    """`Distiller.compile`'s `distillation_loss_fn`, `alpha` and `temperature`.

    The loss is built from the registry (`kdkeras.losses.get`) with its
    configured arguments and the temperature of the first step; a scheduled
    temperature then replaces it step by step.

    Args:
        distill: The `distill` section of a `RunConfig`.
        steps_per_epoch: Training batches per epoch, to turn a schedule's
            epochs into steps.

    Returns:
        A dict of keyword arguments for `Distiller.compile`.
    """
    from kdkeras import losses

    alpha = _value(distill.alpha, steps_per_epoch, distill.epochs)
    temperature = _value(distill.temperature, steps_per_epoch, distill.epochs)
    arguments = dict(distill.loss_arguments)
    if temperature is not None:
        # As `DistillationObjective` reads a schedule's first value.
        start = temperature if not callable(temperature) else float(temperature(0))
        arguments["temperature"] = start
    loss = losses.get(distill.loss_name, **arguments)
    return {
        "distillation_loss_fn": loss,
        "alpha": alpha,
        "temperature": temperature if callable(temperature) else None,
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
    distillation had none)."""
    from kdkeras.distillation.objective import DEFAULT_TEMPERATURE

    temperature = final_value(distill.temperature)
    return {
        "alpha": final_value(distill.alpha),
        "temperature": DEFAULT_TEMPERATURE if temperature is None else temperature,
    }
