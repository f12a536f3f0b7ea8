"""Training curves: loss and accuracy against epochs, from the CSV histories
`keras.callbacks.CSVLogger` wrote, one colour per history."""

import csv
import os

from kdkeras.io_utils import atomic_path

PANELS = (("loss", "loss"), ("accuracy", "accuracy"))
"""The history columns plotted, one panel each."""


def read_history(path):
    """A CSV history as `{column: [values by epoch]}`.

    An epoch logged twice (the one running when a run was killed, then run
    again after `--resume`) keeps its last row.
    """
    by_epoch = {}
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            by_epoch[int(row["epoch"])] = row
    columns = {}
    for epoch in sorted(by_epoch):
        for key, value in by_epoch[epoch].items():
            columns.setdefault(key, []).append(float(value) if value else None)
    return columns


def plot_training_curves(history_dir, path, stages):
    """Writes `path` (PNG, atomically): loss and accuracy against epochs.

    Each of `stages` with a history in `history_dir` is one colour; the
    training values are dashed, the validation ones solid. A distilled
    student's `loss` mixes the label and distillation losses, so where a
    history has `student_loss` (the label loss, which `kdkeras.Distiller`
    logs) the loss panel shows that, comparable with a student trained on
    the labels alone.

    Args:
        history_dir: The folder of the CSV histories, `<stage>.csv` each.
        path: The PNG file to write.
        stages: `{stage: legend label}`, in legend order; a stage without
            a `<stage>.csv` in `history_dir` is left out.

    Returns:
        `path`, or `None` when no stage has a history.
    """
    from matplotlib.figure import Figure

    histories = {
        label: read_history(os.path.join(history_dir, f"{stage}.csv"))
        for stage, label in stages.items()
        if os.path.exists(os.path.join(history_dir, f"{stage}.csv"))
    }
    if not histories:
        return None
    figure = Figure(figsize=(11, 4.5))
    axes = figure.subplots(1, len(PANELS))
    for axis, (column, title) in zip(axes, PANELS, strict=True):
        for index, (label, history) in enumerate(histories.items()):
            color = f"C{index}"
            train_key = column
            if column == "loss" and "student_loss" in history:
                train_key = "student_loss"
            epochs = [int(epoch) + 1 for epoch in history["epoch"]]
            # Markers, so a one-epoch stage still shows.
            if train_key in history:
                axis.plot(epochs, history[train_key], "x--", color=color, ms=4)
            if f"val_{column}" in history:
                axis.plot(
                    epochs,
                    history[f"val_{column}"],
                    "o-",
                    color=color,
                    ms=4,
                    label=label,
                )
            elif train_key in history:
                axis.plot([], [], "o-", color=color, ms=4, label=label)
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_xlabel("epoch")
        axis.set_ylabel(title)
        axis.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(
        "Training curves (x, dashed: training; o, solid: validation; "
        "the distilled student's loss is its label loss)"
    )
    figure.tight_layout()
    with atomic_path(path, overwrite=True) as temporary_path:
        figure.savefig(temporary_path, format="png", dpi=110)
    return path
