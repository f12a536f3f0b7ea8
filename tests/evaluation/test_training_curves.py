"""Training curves from CSV histories."""

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from kdkeras.evaluation.training_curves import plot_training_curves, read_history

STAGES = {"scratch": "student (scratch)", "distill": "student (distilled)"}


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_read_history_keeps_the_last_row_of_a_repeated_epoch(tmp_path):
    path = tmp_path / "distill.csv"
    write_csv(
        path,
        ["epoch", "accuracy", "val_accuracy"],
        [[0, 0.5, 0.4], [1, 0.6, 0.5], [1, 0.65, 0.55], [2, 0.7, ""]],
    )
    history = read_history(path)
    assert history["epoch"] == [0.0, 1.0, 2.0]
    assert history["accuracy"] == [0.5, 0.65, 0.7]
    assert history["val_accuracy"] == [0.4, 0.55, None]


def test_plot_training_curves(tmp_path, monkeypatch):
    history_dir = tmp_path / "history"
    history_dir.mkdir()
    write_csv(
        history_dir / "scratch.csv",
        ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"],
        [[0, 0.5, 1.2, 0.55, 1.1], [1, 0.7, 0.9, 0.68, 0.95]],
    )
    write_csv(
        history_dir / "distill.csv",
        ["epoch", "accuracy", "distillation_loss", "loss", "student_loss"],
        [[0, 0.6, 0.3, 0.4, 1.0]],
    )
    saved = []
    save = Figure.savefig

    def recording_savefig(figure, *args, **kwargs):
        saved.append(figure)
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    path = plot_training_curves(history_dir, tmp_path / "report" / "curves.png", STAGES)
    assert path == tmp_path / "report" / "curves.png"
    image = np.asarray(Image.open(path))
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 10

    (figure,) = saved
    loss_axis, accuracy_axis = figure.axes
    assert [loss_axis.get_ylabel(), accuracy_axis.get_ylabel()] == ["loss", "accuracy"]

    def curves(axis):
        """(x, y, line style, colour) of each line with points."""
        return [
            (list(line.get_xdata()), list(line.get_ydata()), line.get_linestyle(), c)
            for line in axis.get_lines()
            if len(line.get_xdata())
            for c in [line.get_color()]
        ]

    # Epochs from 1; training dashed, validation solid; one colour a stage.
    assert curves(accuracy_axis) == [
        ([1, 2], [0.5, 0.7], "--", "C0"),
        ([1, 2], [0.55, 0.68], "-", "C0"),
        ([1], [0.6], "--", "C1"),
    ]
    # The distilled student's loss panel shows its label loss, not `loss`.
    assert curves(loss_axis) == [
        ([1, 2], [1.2, 0.9], "--", "C0"),
        ([1, 2], [1.1, 0.95], "-", "C0"),
        ([1], [1.0], "--", "C1"),
    ]
    legend = [text.get_text() for text in loss_axis.get_legend().get_texts()]
    assert legend == ["student (scratch)", "student (distilled)"]


def test_no_history_no_figure(tmp_path):
    assert plot_training_curves(tmp_path, tmp_path / "curves.png", STAGES) is None
    assert not (tmp_path / "curves.png").exists()
