"""Training curves from CSV histories."""

import numpy as np
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


def test_plot_training_curves(tmp_path):
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
    path = plot_training_curves(history_dir, tmp_path / "report" / "curves.png", STAGES)
    assert path == tmp_path / "report" / "curves.png"
    image = np.asarray(Image.open(path))
    assert image.shape[0] > 300 and image.shape[1] > 800


def test_no_history_no_figure(tmp_path):
    assert plot_training_curves(tmp_path, tmp_path / "curves.png", STAGES) is None
    assert not (tmp_path / "curves.png").exists()
