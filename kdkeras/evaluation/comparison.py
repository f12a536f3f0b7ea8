"""Scoring several models on the same data: one `evaluate_model` row each.

```python
rows = compare_models(
    {"teacher": teacher, "student int8": "student_int8.tflite"},
    x_test,
    y_test,
    latency_runs=100,
)
print(format_table(rows))
```
"""

import collections.abc
import time

from kdkeras.evaluation.model_kinds import model_format
from kdkeras.evaluation.scoring import evaluate_model
from kdkeras.progress import check_verbose, print_step


def compare_models(
    models,
    x,
    y,
    batch_size=256,
    latency_runs=0,
    num_threads=None,
    verbose="auto",
):
    """Scores several models on the same data, one `evaluate_model` row each.

    Args:
        models: A `dict` from row name to a `keras.Model`, a `.tflite` path or
            a `kdkeras.litert.LiteRTModel`, in the order of the table, e.g.
            `{"teacher": teacher, "student int8": "student_int8.tflite"}`.
        x: The inputs, or a batched `tf.data.Dataset` of `(inputs, labels)`.
        y: The labels (class ids or one-hot); `None` for a dataset.
        batch_size: Batch size of the predictions.
        latency_runs: Timed runs per model at batch 1; 0 skips the latency.
        num_threads: Threads of the LiteRT interpreters (`None`: LiteRT's
            default), which time every model: a Keras model through its
            float32 LiteRT twin (see `evaluate_model`).
        verbose: As in Keras: `0` is silent; `"auto"` (the default) prints
            one line per model as soon as it is scored, e.g.
            `[2/3] student int8: accuracy 0.8855 (4.1 s)`; `1` also shows a
            `keras.utils.Progbar` of each model's predictions and timed runs,
            `2` a line as each model's scoring starts and one per step of it
            (see `evaluate_model`).

    Returns:
        A list of `evaluate_model` rows, in the order of `models`.
    """
    expected = (
        "`models` must be a non-empty dict from name to a keras.Model, a .tflite "
        "path or a kdkeras.litert.LiteRTModel."
    )
    if not isinstance(models, collections.abc.Mapping) or not models:
        raise ValueError(f"{expected} Received: models={models!r}")
    # Every model is checked before the first one is scored.
    formats = {}
    for name, model in models.items():
        try:
            formats[name] = model_format(model)
        except ValueError:
            raise ValueError(
                f"{expected} Received: models[{name!r}] of type {type(model).__name__}"
            ) from None
    # "auto" keeps each model's scoring quiet: one line per model.
    step_verbose = check_verbose(verbose, auto=0)
    rows = []
    for index, (name, model) in enumerate(models.items()):
        start = time.perf_counter()
        label = f"[{index + 1}/{len(models)}] {name}"
        if step_verbose == 2:
            print_step(label, "scoring …")
        row = evaluate_model(
            model,
            x,
            y,
            name=str(name),
            batch_size=batch_size,
            latency_runs=latency_runs,
            num_threads=num_threads,
            verbose=step_verbose,
        )
        rows.append(row)
        if verbose:
            print_step(
                label,
                f"accuracy {row['accuracy']:.4f} ({time.perf_counter() - start:.1f} s)",
            )
    return rows


RUNTIMES = {
    "keras": "Keras (a traced tf.function)",
    "litert": "the LiteRT interpreter",
}
"""How each format of row is timed, in words."""


def teacher_to_student(rows, teacher, student):
    """The figures a user decides on: how much accuracy the student gives up
    for how much smaller and faster it is than the teacher.

    Args:
        rows: Rows of `evaluate_model` (e.g. `compare_models`' or a report's).
        teacher: The name of the teacher's row.
        student: The name of the student's row (e.g. its int8 `.tflite`).

    Returns:
        A dict: `teacher`, `student` (the row names), `accuracy_points`
        (the student's accuracy minus the teacher's, in points),
        `size_ratio` (the teacher's size over the student's), and, when
        both rows were timed, `latency_ratio` (the teacher's median latency
        over the student's) with `teacher_runtime` and `student_runtime`
        (`RUNTIMES`): a ratio across two runtimes says so.

    Raises:
        ValueError: If a name is not a row's.
    """
    by_name = {row["name"]: row for row in rows}
    for argument, name in (("teacher", teacher), ("student", student)):
        if name not in by_name:
            raise ValueError(
                f"`{argument}` must name a row, one of {sorted(by_name)}. "
                f"Received: {argument}={name!r}"
            )
    teacher_row, student_row = by_name[teacher], by_name[student]
    figures = {
        "teacher": teacher,
        "student": student,
        "accuracy_points": round(
            100 * (student_row["accuracy"] - teacher_row["accuracy"]), 2
        ),
        "size_ratio": round(teacher_row["size_bytes"] / student_row["size_bytes"], 1),
    }
    if "latency_median_ms" in teacher_row and "latency_median_ms" in student_row:
        figures.update(
            latency_ratio=round(
                teacher_row["latency_median_ms"] / student_row["latency_median_ms"], 1
            ),
            teacher_runtime=RUNTIMES[_runtime(teacher_row)],
            student_runtime=RUNTIMES[_runtime(student_row)],
        )
    return figures


def _runtime(row):
    """The runtime that timed a row (rows written before it was recorded:
    their format's)."""
    return row.get("latency_runtime", row["format"])


def describe_teacher_to_student(figures):
    """`teacher_to_student`'s figures as one sentence."""
    words = (
        f"{figures['student']} against {figures['teacher']}: "
        f"{figures['accuracy_points']:+.2f} accuracy points, "
        f"{figures['size_ratio']:g}× smaller"
    )
    if "latency_ratio" in figures:
        words += f", {figures['latency_ratio']:g}× faster at batch 1"
        if figures["teacher_runtime"] != figures["student_runtime"]:
            words += (
                f" (the teacher timed in {figures['teacher_runtime']}, the "
                f"student in {figures['student_runtime']}: two runtimes)"
            )
        else:
            words += f" (both timed in {figures['teacher_runtime']})"
    return words
