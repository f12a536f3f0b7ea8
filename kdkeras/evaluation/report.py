"""One comparison report of Keras models and their LiteRT variants.

```python
rows = kdkeras.report.compare_and_report(
    {
        "teacher": teacher,
        "student (distilled)": student,
        "student int8": "saved_models/student/model_int8.tflite",
    },
    x_test,
    y_test,
    "saved_models/student/report",
    class_names=FASHION_MNIST_CLASS_NAMES,
)
```

writes `report.md`, `report.json` and `report.png` (accuracy against size and
against latency) and returns the rows of `kdkeras.evaluation.evaluate_model`:
accuracy, macro precision, recall and F1 (scikit-learn), the confusion
matrix, parameters, size, gzipped size and latency at batch 1 on this CPU of
each model, and the kernel sparsity of each Keras model. When a model is
pruned, the table shows sparsity and gzipped size, and the report says what
pruning does and does not buy.
"""

import datetime
import json
import os
import platform
from collections.abc import Mapping

import keras
import numpy as np

from kdkeras.evaluation import sparsity, tables
from kdkeras.evaluation.comparison import compare_models
from kdkeras.evaluation.model_kinds import static_num_classes
from kdkeras.evaluation.report_plots import plot_confusion_matrices, plot_tradeoffs
from kdkeras.io_utils import atomic_path
from kdkeras.litert import LiteRTModel, load_litert_model
from kdkeras.validation import (
    check_class_labels,
    check_class_names,
    check_path,
    check_string,
)

REPORT_COLUMNS = (
    *tables.DEFAULT_COLUMNS,
    tables.Column("latency ms", "latency_median_ms", "{:.3f}".format, ">"),
    tables.Column("p90 ms", "latency_p90_ms", "{:.3f}".format, ">"),
)
"""The columns of the report's table: the scores, size and batch-1 latency."""

SPARSITY_COLUMNS = (
    tables.Column("sparsity", "sparsity", "{:.1%}".format, ">"),
    tables.Column("gzipped", "gzipped_bytes", tables.format_size, ">"),
)
"""Columns added to the table when a model is pruned (see `report_columns`)."""

PRUNING_NOTE = (
    "Sparsity: the fraction of exact zeros in the kernels. Unstructured "
    "sparsity does not make a model faster: Keras and LiteRT (XNNPACK) run "
    "dense kernels that multiply the zeros like any other weight, so expect "
    "the same latency as the dense model. It pays in the gzipped size (Keras "
    "rows: the weights; LiteRT rows: the file), which is what an app download "
    "or an over-the-air update carries. For speed, distill into a smaller "
    "student or quantize to int8."
)


def compare_and_report(
    models,
    x,
    y,
    directory,
    class_names=None,
    title="Model comparison",
    latency_runs=100,
    num_threads=None,
    verbose="auto",
    findings=(),
):
    """Scores and times every model on `(x, y)` and writes the report.

    Args:
        models: A `dict` from row name to a `keras.Model`, a `.tflite` path or
            a `kdkeras.litert.LiteRTModel`, in the order of the table.
        x: Test inputs as the Keras models take them, or a batched
            `tf.data.Dataset` of `(inputs, labels)` (e.g. from
            `keras.utils.image_dataset_from_directory`), read batch by batch.
        y: Test labels (class ids or one-hot); `None` for a dataset.
        directory: Where `report.md`, `report.json` and `report.png` go
            (created if needed; existing reports are replaced).
        class_names: Names of the classes, for the confusion matrices.
        title: Title of the report.
        latency_runs: Timed runs per model at batch 1; 0 skips the latency.
        num_threads: Threads of the LiteRT interpreters.
        verbose: As in `compare_models`: `0` is silent, `"auto"` prints one
            line per model as it is scored, `1` adds progress bars and `2`
            lines of each model's predictions and timed runs.
        findings: What the run that made the models decided and warned
            about: dicts with `kind` (`"decision"`, `"warning"` or
            `"result"`), `stage` and `message` (and `numbers`), as
            `kdkeras run` records them; a section of the report, warnings
            first.

    Returns:
        The list of rows, one `kdkeras.evaluation.evaluate_model` row per
        model (see `compare_models`).
    """
    _check_arguments(models, y, directory, class_names, title)
    rows = compare_models(
        models,
        x,
        y,
        latency_runs=latency_runs,
        num_threads=num_threads,
        verbose=verbose,
    )
    if class_names is not None:
        for row in rows:
            if len(row["confusion_matrix"]) != len(class_names):
                raise ValueError(
                    "`class_names` must name each class the models output. "
                    f"Received: {len(class_names)} class_names for "
                    f"{len(row['confusion_matrix'])} classes of {row['name']!r}"
                )
    write_report(
        rows, directory, class_names=class_names, title=title, findings=findings
    )
    return rows


def _check_arguments(models, y, directory, class_names, title):
    """Checks what can be checked before any model is scored.

    With `class_names`, every model must output one score per name and every
    label must be one of the classes: otherwise the confusion matrices would
    have the wrong size.
    """
    check_string(title, "title")
    directory = check_path(directory, "directory")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(
            "`directory` must be a directory (created if needed). Received: "
            f"directory={directory!r}, an existing file"
        )
    if class_names is None:
        return
    class_names = check_class_names(class_names)
    if isinstance(models, Mapping):
        for name, model in models.items():
            if isinstance(model, (str, bytes, os.PathLike)):
                model = load_litert_model(model, argument_name=f"models[{name!r}]")
            if not isinstance(model, (keras.Model, LiteRTModel)):
                continue  # `compare_models` names it.
            num_classes = static_num_classes(model)
            if num_classes is not None and num_classes != len(class_names):
                raise ValueError(
                    "`class_names` must name each class the models output. "
                    f"Received: {len(class_names)} class_names for {num_classes} "
                    f"classes of {name!r}"
                )
    if y is not None:
        check_class_labels(np.asarray(y), len(class_names), "y")


def row_is_pruned(row):
    """Whether a report row is of a pruned model (see `sparsity.is_pruned`)."""
    return (row.get("sparsity") or 0.0) > sparsity.PRUNED_SPARSITY


KERAS_LATENCY_COLUMN = tables.Column(
    "Keras ms", "keras_latency_median_ms", "{:.3f}".format, ">"
)
"""A Keras model's latency as a traced call in Keras, beside the LiteRT one."""


def report_columns(rows):
    """`REPORT_COLUMNS`, plus the Keras latency when a Keras model was timed
    and `SPARSITY_COLUMNS` when a row is pruned."""
    columns = REPORT_COLUMNS
    if any("keras_latency_median_ms" in row for row in rows):
        columns += (KERAS_LATENCY_COLUMN,)
    if any(row_is_pruned(row) for row in rows):
        columns += SPARSITY_COLUMNS
    return columns


def describe_latency_method(rows):
    """How the report's latencies were measured, in a sentence, from the
    rows' own fields (runtime, threads, warm-up, runs)."""
    timed = [row for row in rows if "latency_median_ms" in row]
    if not timed:
        return "Latency: not measured."
    threads = sorted(
        {str(row.get("latency_num_threads") or "default") for row in timed}
    )
    counts = sorted(
        {(row.get("latency_warmup"), row.get("latency_runs")) for row in timed},
        key=str,
    )
    runs = "; ".join(
        f"{warmup} warm-up then {num} timed runs" for warmup, num in counts
    )
    words = (
        "Latency: median and 90th percentile of single-example inferences "
        f"(batch 1, {runs}), every model in `ai_edge_litert`'s interpreter with "
        f"{' / '.join(threads)} thread(s): a Keras model through its float32 "
        "LiteRT conversion, made for the timing (`Keras ms`: its traced "
        "`tf.function` call in Keras, for reference)."
    )
    untimed = [row for row in timed if row.get("latency_runtime") == "keras"]
    for row in untimed:
        words += f" {row['name']}: {row.get('latency_note', 'timed in Keras')}."
    return words


def write_report(
    rows, directory, class_names=None, title="Model comparison", findings=()
):
    """Writes `report.md`, `report.json`, `report.png` and
    `confusion_matrices.png` atomically (`findings` as `compare_and_report`'s).

    Returns:
        A `dict` with the paths under `"markdown"`, `"json"`, `"figure"` and
        `"confusion_matrices"`.
    """
    os.makedirs(directory, exist_ok=True)
    paths = {
        "markdown": os.path.join(directory, "report.md"),
        "json": os.path.join(directory, "report.json"),
        "figure": os.path.join(directory, "report.png"),
        "confusion_matrices": os.path.join(directory, "confusion_matrices.png"),
    }
    environment = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
    }
    with atomic_path(paths["json"], overwrite=True) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            json.dump(
                {
                    "title": title,
                    "environment": environment,
                    "class_names": class_names,
                    "findings": list(findings),
                    "rows": rows,
                },
                file,
                indent=2,
            )
            file.write("\n")
    with atomic_path(paths["markdown"], overwrite=True) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            file.write(format_markdown(rows, title, environment, class_names, findings))
    with atomic_path(paths["figure"], overwrite=True) as temporary_path:
        plot_tradeoffs(rows, title).savefig(temporary_path, format="png", dpi=120)
    with atomic_path(paths["confusion_matrices"], overwrite=True) as temporary_path:
        plot_confusion_matrices(rows, class_names).savefig(
            temporary_path, format="png", dpi=100
        )
    return paths


FINDING_HEADINGS = {
    "warning": "Warning",
    "result": "Result",
    "decision": "Decision",
}
"""How each kind of finding is labelled in the report, in this order."""


def format_findings(findings):
    """Markdown list items of `findings`: warnings first, then results, then
    decisions, each in the order found."""
    return [
        f"- **{heading}** ({finding['stage']}): {finding['message']}"
        for kind, heading in FINDING_HEADINGS.items()
        for finding in findings
        if finding["kind"] == kind
    ]


def format_markdown(rows, title, environment, class_names=None, findings=()):
    """The report as Markdown: the table, what the run decided and found,
    notes, and each confusion matrix."""
    lines = [
        f"# {title}",
        "",
        f"{environment['date']}, {environment['cpu_count']} CPU cores "
        f"({environment['machine']}). {describe_latency_method(rows)} Size: "
        "the `.keras` file without optimizer state, or the `.tflite` file.",
        "",
        tables.format_markdown_table(rows, report_columns(rows)),
        "",
    ]
    if findings:
        lines += ["## What the run decided and found", ""]
        lines += format_findings(findings) + [""]
    lines += [
        "![accuracy against size and latency](report.png)",
        "",
        "![confusion matrices](confusion_matrices.png)",
    ]
    pruned_rows = [row for row in rows if row_is_pruned(row)]
    if pruned_rows:
        lines += ["", "## Pruning", "", PRUNING_NOTE]
    for row in pruned_rows:
        lines += [
            "",
            f"Kernel sparsity of {row['name']}, layer by layer:",
            "",
            "| layer | sparsity |",
            "|:---|---:|",
        ]
        lines += [
            f"| {layer} | {layer_sparsity:.1%} |"
            for layer, layer_sparsity in row["layer_sparsity"].items()
        ]
    for row in rows:
        lines += [
            "",
            f"## Confusion matrix: {row['name']}",
            "",
            "Rows: true class; columns: predicted class.",
            "",
        ]
        lines.append(_confusion_markdown(row["confusion_matrix"], class_names))
    return "\n".join(lines) + "\n"


def _confusion_markdown(matrix, class_names):
    names = class_names or [str(index) for index in range(len(matrix))]
    lines = [
        "| true \\ predicted | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for name, counts in zip(names, matrix, strict=True):
        lines.append(f"| {name} | " + " | ".join(str(count) for count in counts) + " |")
    return "\n".join(lines)
