"""`distill.alpha: auto` and `distill.temperature: auto`: the run chooses them.

Before the distill stage trains, a short sweep
(`kdkeras.distillation.tuning.choose_distillation_settings`) trains the
student under a few settings derived from the teacher's soft-target
statistics, on the run's cache of the teacher's logits (offline: a candidate
costs a student fit, no teacher pass), and keeps the best on the validation
split. The sweep's epochs and the winner's full fit together cost at most
`distill.auto_budget` times `distill.epochs`.

The choice is recorded once, as the pseudo-stage `distill_settings` of
`state.json`, with every candidate and its validation accuracy, and as a
decision of the distill stage in the log and the report; a resumed run
reads it back instead of sweeping again, so it cannot choose differently.
"""

import math

from kdkeras.config.errors import ConfigError
from kdkeras.config.stages import AUTO
from kdkeras.distillation import tuning
from kdkeras.pipeline import distill_arguments, folder_logits, model_setup, run_data
from kdkeras.pipeline.teacher_logits import cached_teacher_logits

SETTINGS_STAGE = "distill_settings"
"""The pseudo-stage of `state.json` that records the choice."""


def resolved_distill(context):
    """The `distill` section with its `auto` keys replaced by the choice.

    Sweeps and records the choice the first time; afterwards (a resumed
    run, or the optimize stage) reads the recorded one. A section without
    `auto` is returned as it is.

    Args:
        context: The run's `RunContext`, with the teacher in its models.

    Returns:
        A `DistillSection` whose `alpha` and `temperature` are numbers or
        schedules.

    Raises:
        ConfigError: If `auto` cannot be chosen in this run
            (`check_auto_settings`).
    """
    distill, folder = context.config.distill, context.folder
    if not distill.auto_keys:
        return distill
    if folder.is_finished(SETTINGS_STAGE):
        record = folder.artifacts(SETTINGS_STAGE)
        context.log.info(
            "  distill settings: alpha %s, temperature %s, as chosen before "
            "(state.json: %s); no new sweep",
            record["alpha"],
            record["temperature"],
            SETTINGS_STAGE,
        )
        # The runner forgets the findings of a stage it runs again.
        if not folder.is_finished("distill"):
            context.decide("distill", _message(distill, record), **_numbers(record))
    else:
        record = _choose(context)
        folder.mark_finished(SETTINGS_STAGE, **record)
        context.decide("distill", _message(distill, record), **_numbers(record))
    return distill_arguments.with_chosen_settings(
        distill, record["alpha"], record["temperature"]
    )


def check_auto_settings(config, data):
    """Refuses `auto` where the run cannot choose it.

    Args:
        config: The `RunConfig`.
        data: Its `RunData`.

    Raises:
        ConfigError: With `augmentation` set (the sweep's short fits would
            train on other images than the stage), or without a validation
            split to choose on.
    """
    keys = config.distill.auto_keys
    if not keys:
        return
    key = f"distill.{keys[0]}"
    if config.augmentation is not None:
        raise ConfigError(
            [
                f"{key}: expected a number or a schedule with augmentation (the "
                "choice is made by short fits on the teacher's cached logits of "
                "the unshifted images, not on the augmented views the stage "
                f"trains on), or augmentation: null (received: {AUTO!r})"
            ]
        )
    if data.validation is None:
        raise ConfigError(
            [
                f"{key}: expected a number or a schedule without a validation "
                "split, or data.validation_split > 0 (the choice is made on the "
                f"validation split) (received: {AUTO!r})"
            ]
        )


def teacher_saw_more_data(config):
    """Whether the run's teacher learned from more data than its student:
    a ready teacher (trained elsewhere) or a preset with pretrained weights;
    not a teacher trained from random weights or a text teacher, which
    learn from the run's training split alone."""
    if config.teacher.ready:
        return True
    if config.data.is_text:
        return False
    return config.teacher.weights is not None


def _choose(context):
    """Runs the sweep; the record for `state.json` (JSON values)."""
    from kdkeras import losses

    config, data = context.config, context.data
    distill = config.distill
    check_auto_settings(config, data)
    loss = losses.get(distill.loss_name, **distill.loss_arguments)
    fixed = {
        key: _fixed_value(distill, key, loss)
        for key in ("alpha", "temperature")
        if key not in distill.auto_keys
    }
    teacher_logits = cached_teacher_logits(context, context.models["teacher"])
    if data.in_memory:
        train, validation = data.train, data.validation
    else:
        train = folder_logits.offline_batches(
            data.train_files,
            data.input_shape,
            teacher_logits,
            distill.batch_size,
            config.run.seed,
        )
        validation = context.validation_batches(distill.batch_size)
    rule = tuning.rule_of_thumb(teacher_logits, teacher_saw_more_data(config))
    candidates = tuning.candidate_settings(
        rule, **fixed, uses_temperature=loss.uses_temperature
    )
    steps_per_epoch = run_data.steps_per_epoch(data.train, distill.batch_size)
    budget = _sweep_budget(distill, len(candidates), steps_per_epoch)
    record = {
        "rule": rule,
        "budget_epochs": round(distill.auto_budget * distill.epochs, 4),
        "epochs_per_candidate": budget["epochs_per_candidate"],
        "sweep_epochs": budget["sweep_epochs"],
    }
    if len(candidates) == 1:
        [candidate] = candidates
        context.log.info(
            "  distill settings: one candidate (alpha %s, temperature %s): no sweep",
            candidate["alpha"],
            candidate["temperature"],
        )
        return {**candidate, "candidates": [], **record}
    context.log.info(
        "  distill settings: %d candidates, %d batches each (%.2f epochs) on "
        "the cached teacher logits, scored on the validation split",
        len(candidates),
        budget["steps_per_candidate"],
        budget["epochs_per_candidate"],
    )

    def build_student():
        return model_setup.build_configured_student(
            config.student,
            data.input_shape,
            data.num_classes,
            "student_candidate",
            tokenizer=data.tokenizer,
        )

    choice = tuning.choose_distillation_settings(
        build_student,
        train,
        teacher_logits,
        validation,
        candidates=candidates,
        epochs=budget["epochs_per_candidate"],
        batch_size=distill.batch_size,
        learning_rate=distill.learning_rate,
        loss=distill.loss_name,
        loss_arguments=distill.loss_arguments,
        # The distilled student's own seed (`context.new_student`): every
        # candidate, and the winner's full fit, start from the same weights.
        seed=config.run.seed + 1,
        verbose=2,
    )
    return {**choice.as_dict(), **record}


def _fixed_value(distill, key, loss):
    """The number a key that is not `auto` keeps in every candidate (the
    loss's own temperature for a null one); the config refuses a schedule
    beside `auto`."""
    value = getattr(distill, key)
    if key == "temperature" and value is None and loss.uses_temperature:
        return loss.temperature
    return value


def _sweep_budget(distill, num_candidates, steps_per_epoch):
    """The candidates' short fits within `distill.auto_budget`.

    The winner's full fit takes `distill.epochs`; the candidates share the
    rest, `(auto_budget − 1) × epochs`, in whole batches.

    Raises:
        ConfigError: If the share of a candidate is less than one batch.
    """
    if num_candidates == 1:
        return {
            "epochs_per_candidate": 0.0,
            "steps_per_candidate": 0,
            "sweep_epochs": 0.0,
        }
    sweep_epochs = (distill.auto_budget - 1.0) * distill.epochs
    epochs_per_candidate = sweep_epochs / num_candidates
    steps = math.floor(epochs_per_candidate * steps_per_epoch)
    if steps < 1:
        raise ConfigError(
            [
                f"distill.auto_budget: expected room for {num_candidates} short "
                f"fits of at least one batch each beside the {distill.epochs} "
                f"epochs of the full fit ({steps_per_epoch} batches per epoch) "
                f"(received: {distill.auto_budget})"
            ]
        )
    return {
        "epochs_per_candidate": round(epochs_per_candidate, 6),
        "steps_per_candidate": steps,
        "sweep_epochs": round(num_candidates * steps / steps_per_epoch, 4),
    }


def _numbers(record):
    """The numbers of the decision: the choice and every candidate."""
    best = max(
        (row["validation_accuracy"] for row in record["candidates"]), default=None
    )
    return {
        "alpha": record["alpha"],
        "temperature": record["temperature"],
        "validation_accuracy": best,
        "candidates": record["candidates"],
        "rule_temperature": record["rule"]["temperature"],
        "rule_alpha": record["rule"]["alpha"],
        "top_probability": record["rule"]["top_probability"],
        "sweep_epochs": record["sweep_epochs"],
        "budget_epochs": record["budget_epochs"],
    }


def _message(distill, record):
    """The decision in one paragraph: the choice, the table, the rule, the cost."""
    keys = " and ".join(f"distill.{key}" for key in distill.auto_keys)
    chosen = f"alpha {record['alpha']:g}, temperature {_number(record['temperature'])}"
    rule = record["rule"]
    because = (
        f"the rule of thumb proposed temperature {rule['temperature']:g} (the "
        f"teacher's top class keeps {rule['top_probability']:.2f} of the mass "
        f"there, at least {tuning.RULE_TOP_PROBABILITY} wanted) and alpha "
        f"{rule['alpha']:g}"
    )
    if not record["candidates"]:
        return f"{keys} auto: {chosen}, the only candidate ({because})."
    rows = "; ".join(
        f"alpha {row['alpha']:g}, T {_number(row['temperature'])}: "
        f"{row['validation_accuracy']:.4f}"
        for row in record["candidates"]
    )
    return (
        f"{keys} auto: {chosen}, the best validation accuracy of "
        f"{len(record['candidates'])} candidates trained "
        f"{record['epochs_per_candidate']:.2f} epochs each on the cached "
        f"teacher logits ({rows}); {because}. Sweep {record['sweep_epochs']:.2f} "
        f"epochs + full fit {distill.epochs} of a budget of "
        f"{record['budget_epochs']:g} (distill.auto_budget {distill.auto_budget:g})."
    )


def _number(value):
    return "the loss's default" if value is None else f"{value:g}"
