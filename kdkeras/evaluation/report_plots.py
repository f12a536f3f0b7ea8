"""The figures of a comparison report (`kdkeras.evaluation.report`).

Bare matplotlib `Figure`s (no pyplot state, no display backend needed) of the
rows of `kdkeras.evaluation.evaluate_model`: accuracy against size and
latency, and each model's confusion matrix.
"""

import math

import numpy as np


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


def plot_confusion_matrices(rows, class_names=None):
    """A matplotlib figure: each row's confusion matrix as a heatmap.

    One panel per model (`sklearn.metrics.ConfusionMatrixDisplay`), three to
    a line; the counts are written in the cells up to 20 classes.
    """
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    num_classes = len(rows[0]["confusion_matrix"])
    labels = class_names or [str(index) for index in range(num_classes)]
    num_columns = min(3, len(rows))
    num_lines = math.ceil(len(rows) / num_columns)
    side = 3 + 0.3 * num_classes
    figure = Figure(figsize=(side * num_columns, side * num_lines))
    axes = figure.subplots(num_lines, num_columns, squeeze=False).ravel()
    for axis, row in zip(axes, rows, strict=False):
        display = ConfusionMatrixDisplay(
            np.asarray(row["confusion_matrix"]), display_labels=labels
        )
        display.plot(
            ax=axis,
            colorbar=False,
            include_values=num_classes <= 20,
            values_format="d",
            xticks_rotation="vertical",
        )
        axis.set_title(f"{row['name']}: accuracy {row['accuracy']:.4f}", fontsize=9)
    for axis in axes[len(rows) :]:
        axis.set_visible(False)
    figure.tight_layout()
    return figure
