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
against latency) and returns the rows: accuracy, macro precision, recall and
F1 (scikit-learn), the confusion matrix, parameters, size, gzipped size and
latency at batch 1 on this CPU of each model, and the kernel sparsity of each
Keras model. When a model is pruned, the table shows sparsity and gzipped
size, and the report says what pruning does and does not buy.
"""

import collections.abc
import datetime
import json
import os
import platform

import keras
import numpy as np
from sklearn import metrics as sklearn_metrics

from kdkeras.evaluation import scoring, sparsity
from kdkeras.evaluation.latency import measure_latency
from kdkeras.io_utils import atomic_path

REPORT_COLUMNS = (
    *scoring.DEFAULT_COLUMNS,
    scoring.Column("latency ms", "latency_median_ms", "{:.3f}".format, ">"),
    scoring.Column("p90 ms", "latency_p90_ms", "{:.3f}".format, ">"),
)
"""The columns of the report's table: the scores, size and batch-1 latency."""

SPARSITY_COLUMNS = (
    scoring.Column("sparsity", "sparsity", "{:.1%}".format, ">"),
    scoring.Column("gzipped", "gzipped_bytes", scoring.format_size, ">"),
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


def evaluate_for_report(
    name, model, x, y, num_classes, latency_runs=100, num_threads=None
):
    """One report row of a Keras model or a `.tflite` file.

    Args:
        name: Name of the row.
        model: A `keras.Model`, the path of a `.tflite` file, or a
            `kdkeras.litert.LiteRTModel`.
        x: The inputs (real values; LiteRT quantizes them for int8 inputs).
        y: The labels (class ids or one-hot).
        num_classes: Number of classes, for the confusion matrix.
        latency_runs: Timed single-example runs; 0 skips the latency.
        num_threads: Threads of the LiteRT interpreter (`None`: its default).

    Returns:
        A row `dict`: `name`, `format` (`"keras"` or `"litert"`), the scores
        of `evaluate_classifier`, `confusion_matrix` (rows: true classes),
        `parameters`, `size_bytes`, `gzipped_bytes` (Keras: the weights
        after gzip; LiteRT: the file after gzip), `sparsity` and
        `layer_sparsity` (Keras models only: see
        `kdkeras.sparsity.sparsity_report`), `latency_median_ms` and
        `latency_p90_ms`.
    """
    from kdkeras import litert

    true_classes = scoring.to_class_ids(y)
    if isinstance(model, keras.Model):
        outputs = model.predict(x, batch_size=256, verbose=0)
        kernel_sparsity = sparsity.sparsity_report(model)
        row = {
            "name": name,
            "format": "keras",
            "parameters": scoring.count_parameters(model),
            "size_bytes": scoring.model_size_bytes(model),
            "gzipped_bytes": sparsity.gzipped_size_bytes(model),
            "sparsity": kernel_sparsity["overall"],
            "layer_sparsity": kernel_sparsity["layers"],
        }
    else:
        model = litert.load_litert_model(model, num_threads=num_threads)
        outputs = model.predict(x, batch_size=256)
        row = {
            "name": name,
            "format": "litert",
            "parameters": None,
            "size_bytes": model.size_bytes,
            "gzipped_bytes": sparsity.gzipped_size_bytes(model.path),
            "sparsity": None,
            "layer_sparsity": None,
        }
    predicted_classes = np.asarray(outputs).argmax(axis=-1)
    row.update(scoring.classification_scores(true_classes, predicted_classes))
    row["confusion_matrix"] = sklearn_metrics.confusion_matrix(
        true_classes, predicted_classes, labels=np.arange(num_classes)
    ).tolist()
    if latency_runs:
        latency = measure_latency(
            model,
            example=x[:1],
            num_runs=latency_runs,
            warmup=max(1, latency_runs // 10),
            num_threads=None if isinstance(model, keras.Model) else num_threads,
        )
        row["latency_median_ms"] = latency["median_ms"]
        row["latency_p90_ms"] = latency["p90_ms"]
    return row


def compare_and_report(
    models,
    x,
    y,
    directory,
    class_names=None,
    title="Model comparison",
    latency_runs=100,
    num_threads=None,
):
    """Scores and times every model on `(x, y)` and writes the report.

    Args:
        models: A `dict` from row name to a `keras.Model`, a `.tflite` path or
            a `kdkeras.litert.LiteRTModel`, in the order of the table.
        x: Test inputs as the Keras models take them.
        y: Test labels (class ids or one-hot).
        directory: Where `report.md`, `report.json` and `report.png` go
            (created if needed; existing reports are replaced).
        class_names: Names of the classes, for the confusion matrices.
        title: Title of the report.
        latency_runs: Timed runs per model at batch 1; 0 skips the latency.
        num_threads: Threads of the LiteRT interpreters.

    Returns:
        The list of rows (see `evaluate_for_report`).
    """
    if not isinstance(models, collections.abc.Mapping) or not models:
        raise ValueError(
            "`models` must be a non-empty dict from name to model or .tflite "
            f"path. Received: models={models!r}"
        )
    num_classes = _num_classes(y, class_names)
    rows = [
        evaluate_for_report(
            name, model, x, y, num_classes, latency_runs, num_threads=num_threads
        )
        for name, model in models.items()
    ]
    write_report(rows, directory, class_names=class_names, title=title)
    return rows


def row_is_pruned(row):
    """Whether a report row is of a pruned model (see `sparsity.is_pruned`)."""
    return (row.get("sparsity") or 0.0) > sparsity.PRUNED_SPARSITY


def report_columns(rows):
    """`REPORT_COLUMNS`, plus `SPARSITY_COLUMNS` when a row is pruned."""
    if any(row_is_pruned(row) for row in rows):
        return REPORT_COLUMNS + SPARSITY_COLUMNS
    return REPORT_COLUMNS


def _num_classes(y, class_names):
    y = np.asarray(y)
    if class_names is not None:
        return len(class_names)
    if y.ndim == 2 and y.shape[-1] > 1:
        return y.shape[-1]
    return int(scoring.to_class_ids(y).max()) + 1


def write_report(rows, directory, class_names=None, title="Model comparison"):
    """Writes `report.md`, `report.json` and `report.png` atomically.

    Returns:
        A `dict` with the paths under `"markdown"`, `"json"` and `"figure"`.
    """
    os.makedirs(directory, exist_ok=True)
    paths = {
        "markdown": os.path.join(directory, "report.md"),
        "json": os.path.join(directory, "report.json"),
        "figure": os.path.join(directory, "report.png"),
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
                    "rows": rows,
                },
                file,
                indent=2,
            )
            file.write("\n")
    with atomic_path(paths["markdown"], overwrite=True) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            file.write(format_markdown(rows, title, environment, class_names))
    with atomic_path(paths["figure"], overwrite=True) as temporary_path:
        plot_tradeoffs(rows, title).savefig(temporary_path, format="png", dpi=120)
    return paths


def format_markdown(rows, title, environment, class_names=None):
    """The report as Markdown: the table, notes, and each confusion matrix."""
    lines = [
        f"# {title}",
        "",
        f"{environment['date']}, {environment['cpu_count']} CPU cores "
        f"({environment['machine']}). Latency: median and 90th percentile of "
        "single-image inferences (batch 1) after a warm-up; LiteRT models run "
        "in `ai_edge_litert`'s interpreter, Keras models as a traced "
        "`tf.function`. Size: the `.keras` file without optimizer state, or "
        "the `.tflite` file.",
        "",
        scoring.format_markdown_table(rows, report_columns(rows)),
        "",
        "![accuracy against size and latency](report.png)",
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


def plot_tradeoffs(rows, title):
    """A matplotlib figure: accuracy against size, and against latency."""
    # A bare Figure: no pyplot state, no display backend needed.
    from matplotlib.figure import Figure

    with_latency = any("latency_median_ms" in row for row in rows)
    figure = Figure(figsize=(11 if with_latency else 6, 4.5))
    axes = figure.subplots(1, 2 if with_latency else 1, squeeze=False)
    panels = [("size_bytes", "size on disk (KB)", 1 / 1024)]
    if with_latency:
        panels.append(("latency_median_ms", "median latency at batch 1 (ms)", 1.0))
    for axis, (key, label, scale) in zip(axes[0], panels, strict=True):
        for index, row in enumerate(rows):
            if row.get(key) is None:
                continue
            marker = "o" if row["format"] == "keras" else "s"
            axis.scatter(row[key] * scale, row["accuracy"], marker=marker)
            axis.annotate(
                row["name"],
                (row[key] * scale, row["accuracy"]),
                textcoords="offset points",
                # Alternate above and below: variants of one model lie close.
                xytext=(4, 4 if index % 2 == 0 else -10),
                fontsize=8,
            )
        axis.set_xscale("log")
        axis.set_xlabel(label)
        axis.set_ylabel("test accuracy")
        axis.grid(True, alpha=0.3)
    figure.suptitle(f"{title} (circles: Keras, squares: LiteRT)")
    figure.tight_layout()
    return figure
