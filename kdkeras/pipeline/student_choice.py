"""`student.budget`: the student measured for the device before it trains.

With `student.architecture: auto`, `start_run` measures candidate students
as untrained int8 LiteRT files (`kdkeras.export.choose_student`) and the run
trains the largest that fits the budget. The run folder's `config.yaml`
holds the chosen student in place of `auto`, so a resumed run trains the
same one. With a named architecture, the budget is a check: that student is
measured the same way, and a student over budget stops the run before its
folder is created.

The measurements are recorded as the pseudo-stage `student_choice` of
`state.json` (its `candidates`), one decision among the run's findings, and
a table in `run.log`.
"""

import dataclasses

from kdkeras.config.errors import ConfigError
from kdkeras.config.model_sections import StudentSection
from kdkeras.evaluation.tables import Column, format_table
from kdkeras.pipeline.int8_check import calibration_images
from kdkeras.pipeline.model_setup import student_candidate
from kdkeras.progress import print_step

STAGE = "student_choice"
"""The name the choice is recorded under in `state.json` and the findings."""

_COLUMNS = (
    Column("candidate", "name", str, "<"),
    Column("parameters", "parameters", "{:,}".format, ">"),
    Column("int8 size", "size_kb", "{:.1f} KB".format, ">"),
    Column("latency", "latency_ms", "{:.3f} ms".format, ">"),
    Column("fits", "fits", lambda fits: "yes" if fits else "no", "<"),
    Column("note", "note", str, "<"),
)


def student_section(candidate, student_config):
    """`student_config` with the architecture and sizes of `candidate`: the
    concrete `student` section the run trains (`dropout` and `budget` kept).
    """
    options = candidate.options
    fields = {"architecture": candidate.architecture}
    if candidate.architecture == "cnn":
        fields.update(
            filters=list(options["filters"]),
            dense_units=options.get("dense_units"),
            pooling=options.get("pooling", "avg"),
        )
    elif candidate.architecture == "mlp":
        fields.update(hidden_units=list(options["hidden_units"]))
    elif candidate.architecture == "embedding_bag":
        hidden_units = options.get("hidden_units")
        fields.update(
            embedding_dim=options["embedding_dim"],
            hidden_units=[] if hidden_units is None else [hidden_units],
        )
    elif candidate.architecture == "text_cnn":
        fields.update(
            embedding_dim=options["embedding_dim"],
            filters=[options["filters"]],
            kernel_size=options.get("kernel_size", 3),
        )
    else:
        fields.update(width=options.get("width"))
    return StudentSection.model_validate({**student_config.model_dump(), **fields})


def auto_candidates(student_config, text):
    """The candidates of `architecture: auto`: `kdkeras.export`'s defaults,
    the CNNs with the section's `dense_units` and `pooling`, the text CNNs
    with its `kernel_size` (and none when `dropout` is set: they have no
    dropout layer)."""
    from kdkeras.export import IMAGE_CANDIDATES, TEXT_CANDIDATES

    candidates = []
    for candidate in TEXT_CANDIDATES if text else IMAGE_CANDIDATES:
        if candidate.architecture == "cnn":
            options = {
                **candidate.options,
                "dense_units": student_config.dense_units,
                "pooling": student_config.pooling,
            }
        elif candidate.architecture == "text_cnn":
            if student_config.dropout:
                continue
            options = {**candidate.options, "kernel_size": student_config.kernel_size}
        else:
            options = candidate.options
        candidates.append(dataclasses.replace(candidate, options=options))
    return candidates


def choose_configured_student(config, data):
    """Measures the student(s) of a `student.budget`, before training.

    Args:
        config: The validated `RunConfig`.
        data: Its loaded `RunData`.

    Returns:
        `(config, choice)`: the config with the chosen student in place of
        `auto`, and the `kdkeras.export.StudentChoice`; `(config, None)`
        without a budget.

    Raises:
        ConfigError: Naming `student.budget` (and the smallest candidate's
            measured size and latency) when no candidate fits.
    """
    from kdkeras.export import NoStudentFitsError, choose_student

    student_config = config.student
    budget = student_config.budget
    if budget is None:
        return config, None
    text = data.tokenizer is not None
    if student_config.is_auto:
        candidates = auto_candidates(student_config, text)
        print_step(
            "student",
            f"architecture auto: measuring {len(candidates)} candidates as "
            "int8 LiteRT files …",
        )
    else:
        candidates = [student_candidate(student_config)]
    try:
        choice = choose_student(
            candidates,
            data.input_shape,
            data.num_classes,
            calibration_images(data.train),
            size_kb=budget.size_kb,
            latency_ms=budget.latency_ms,
            num_threads=config.report.num_threads,
            vocabulary_size=None if not text else data.tokenizer.vocabulary_size,
            verbose=2,
        )
    except NoStudentFitsError as error:
        raise ConfigError([_no_fit_problem(student_config, error)]) from None
    resolved = student_section(choice.candidate, student_config)
    resolved_config = type(config).model_validate(
        {**config.model_dump(mode="json"), "student": resolved.model_dump(mode="json")}
    )
    return resolved_config, choice


def record_student_choice(folder, config, choice):
    """Writes the measured candidates into the new run folder: `state.json`
    (stage `student_choice`), one decision among the findings, and a table
    in `run.log`. Nothing without a budget (`choice` is `None`)."""
    if choice is None:
        return
    budget = config.student.budget
    message = describe_choice(config.student, choice)
    with folder.logging_to_file() as log:
        log.info("[%s] %s", STAGE, choice.runtime)
        log.info("\n%s", format_table(choice.measurements, _COLUMNS))
        log.info("  decision: %s", message)
    folder.mark_finished(
        STAGE,
        candidates=choice.measurements,
        chosen=choice.candidate.name,
        runtime=choice.runtime,
    )
    chosen = choice.chosen
    limits = {f"budget_{key}": value for key, value in _limits(budget).items()}
    folder.add_finding(
        STAGE,
        "decision",
        message,
        parameters=chosen["parameters"],
        size_kb=chosen["size_kb"],
        latency_ms=chosen["latency_ms"],
        num_candidates=len(choice.measurements),
        **limits,
    )


def _no_fit_problem(student_config, error):
    """The `ConfigError` line of a budget no candidate fits."""
    from kdkeras.export.budget import describe_smallest

    if error.smallest is None:
        return f"student.budget: expected a student that can be measured; {error}"
    which = "the smallest candidate" if student_config.is_auto else "the student"
    return (
        f"student.budget: expected a budget {which} fits, "
        f"{describe_smallest(error.smallest, error.runtime)}; received "
        f"{describe_budget(student_config.budget)}"
    )


def describe_budget(budget):
    """`student.budget` in words, e.g. `"size_kb=40, latency_ms=0.5"`."""
    return ", ".join(f"{key}={value:g}" for key, value in _limits(budget).items())


def _limits(budget):
    """The limits `budget` sets: `size_kb`, `latency_ms` or both."""
    limits = {"size_kb": budget.size_kb, "latency_ms": budget.latency_ms}
    return {key: value for key, value in limits.items() if value is not None}


def describe_choice(student_config, choice):
    """The decision in one sentence, with the measured numbers."""
    chosen = choice.chosen
    measured = (
        f"{chosen['parameters']:,} parameters, {chosen['size_kb']:.1f} KB, "
        f"{chosen['latency_ms']:.3f} ms ({choice.runtime})"
    )
    budget = describe_budget(student_config.budget)
    if len(choice.measurements) == 1:
        return f"{chosen['name']} fits student.budget ({budget}): {measured}"
    num_measured = sum(row["parameters"] is not None for row in choice.measurements)
    num_fitting = sum(row["fits"] for row in choice.measurements)
    return (
        f"student.architecture auto: {chosen['name']}, the largest of "
        f"{num_fitting} of {num_measured} measured candidates that fit "
        f"student.budget ({budget}): {measured}"
    )
