"""Tests of the comparison report: Keras and LiteRT rows, files, figure."""

import json

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from kdkeras import evaluation, export, report, sparsity


@pytest.fixture(scope="module")
def trained_models(digits, small_cnn):
    x, y = digits
    student = small_cnn(filters=4, seed=1, name="student")
    teacher = small_cnn(filters=16, seed=2, name="teacher")
    for model in (student, teacher):
        model.compile(
            "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        model.fit(x[300:], y[300:], epochs=2, verbose=0)
    return teacher, student


def test_report_rows_files_and_figure(trained_models, digits, tmp_path, monkeypatch):
    teacher, student = trained_models
    figures = []  # each figure the report saves, in order
    save = Figure.savefig

    def recording_savefig(figure, *args, **kwargs):
        figures.append(figure)
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    x, y = digits
    x_test, y_test = x[:300], y[:300]
    tflite_path = export.export_litert(student, str(tmp_path / "student.tflite"))
    class_names = [f"digit {index}" for index in range(10)]

    rows = report.compare_and_report(
        {"teacher": teacher, "student": student, "student float32": tflite_path},
        x_test,
        y_test,
        str(tmp_path / "report"),
        class_names=class_names,
        title="Digits",
        latency_runs=5,
    )

    assert [row["name"] for row in rows] == ["teacher", "student", "student float32"]
    assert [row["format"] for row in rows] == ["keras", "keras", "litert"]
    keras_row = evaluation.evaluate_model(student, x_test, y_test)
    for key in ("accuracy", "precision", "recall", "f1", "parameters"):
        assert rows[1][key] == keras_row[key]
    # The float32 file predicts what the Keras model does.
    assert rows[2]["accuracy"] == rows[1]["accuracy"]
    assert rows[2]["size_bytes"] == (tmp_path / "student.tflite").stat().st_size
    assert rows[2]["parameters"] is None
    assert rows[2]["gzipped_bytes"] == sparsity.gzipped_size_bytes(tflite_path)
    assert rows[2]["sparsity"] is None
    assert rows[1]["gzipped_bytes"] == sparsity.gzipped_size_bytes(student)
    assert rows[1]["sparsity"] == sparsity.sparsity_report(student)["overall"] < 0.01
    for row in rows:
        matrix = np.array(row["confusion_matrix"])
        assert matrix.shape == (10, 10) and matrix.sum() == len(y_test)
        assert np.trace(matrix) / len(y_test) == pytest.approx(row["accuracy"])
        assert 0 < row["latency_median_ms"] <= row["latency_p90_ms"]

    directory = tmp_path / "report"
    saved = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    assert saved["rows"] == rows and saved["class_names"] == class_names
    markdown = (directory / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Digits")
    assert "| model | accuracy |" in markdown and "| student float32 |" in markdown
    assert "## Confusion matrix: teacher" in markdown and "| digit 9 |" in markdown
    # No pruned model: no sparsity columns, no pruning section.
    assert "| sparsity |" not in markdown and "## Pruning" not in markdown
    assert (directory / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    confusion_png = (directory / "confusion_matrices.png").read_bytes()
    assert confusion_png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![confusion matrices](confusion_matrices.png)" in markdown
    _assert_the_figures_show_the_rows(figures, rows, class_names)
    assert sorted(path.name for path in directory.iterdir()) == [
        "confusion_matrices.png",
        "report.json",
        "report.md",
        "report.png",
    ]


def _assert_the_figures_show_the_rows(figures, rows, class_names):
    tradeoffs, confusion = figures
    assert tradeoffs._suptitle.get_text().startswith("Digits")
    size_axis, latency_axis = tradeoffs.axes
    for axis, key, scale in (
        (size_axis, "size_bytes", 1 / 1024),
        (latency_axis, "latency_median_ms", 1.0),
    ):
        # One point a model, at (size or latency, accuracy), named.
        points = np.concatenate([c.get_offsets() for c in axis.collections])
        expected = [(row[key] * scale, row["accuracy"]) for row in rows]
        np.testing.assert_allclose(points, expected)
        assert [text.get_text() for text in axis.texts] == [r["name"] for r in rows]
    # The confusion matrices: one panel a model, its counts and its title.
    panels = [axis for axis in confusion.axes if axis.get_visible()]
    assert len(panels) == len(rows)
    for axis, row in zip(panels, rows, strict=True):
        assert axis.get_title() == f"{row['name']}: accuracy {row['accuracy']:.4f}"
        (image,) = axis.get_images()
        np.testing.assert_array_equal(image.get_array(), row["confusion_matrix"])
        ticks = [label.get_text() for label in axis.get_xticklabels()]
        assert ticks == class_names
    # Not a constant model: the matrices differ from one another's.
    matrices = {json.dumps(row["confusion_matrix"]) for row in rows[:2]}
    assert len(matrices) == 2


def test_report_without_latency_and_bad_models(trained_models, digits, tmp_path):
    _, student = trained_models
    x, y = digits
    rows = report.compare_and_report(
        {"student": student}, x[:50], y[:50], str(tmp_path), latency_runs=0
    )
    assert "latency_median_ms" not in rows[0]
    assert "| student |" in (tmp_path / "report.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="`models` must be a non-empty dict"):
        report.compare_and_report([student], x, y, str(tmp_path))
    with pytest.raises(ValueError, match="`class_names` must name each class"):
        report.compare_and_report(
            {"student": student},
            x[:50],
            y[:50],
            str(tmp_path),
            class_names=["zero", "one"],
            latency_runs=0,
        )


def test_pruned_model_gets_sparsity_columns_and_the_latency_note(
    trained_models, digits, tmp_path
):
    _, student = trained_models
    pruned = keras.models.clone_model(student)
    pruned.set_weights(student.get_weights())
    dense_layer = pruned.layers[-1]
    kernel, bias = dense_layer.get_weights()
    # Zero the 75% smallest entries of the Dense kernel, as magnitude pruning does.
    kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.75)] = 0
    dense_layer.set_weights([kernel, bias])
    x, y = digits

    rows = report.compare_and_report(
        {"student": student, "student pruned": pruned},
        x[:100],
        y[:100],
        str(tmp_path),
        latency_runs=0,
    )

    assert [report.row_is_pruned(row) for row in rows] == [False, True]
    expected = sparsity.sparsity_report(pruned)
    assert rows[1]["layer_sparsity"] == expected["layers"]
    assert rows[1]["layer_sparsity"][dense_layer.name] == pytest.approx(0.75, abs=0.01)
    assert rows[1]["gzipped_bytes"] < rows[0]["gzipped_bytes"]
    assert report.report_columns(rows) == (
        report.REPORT_COLUMNS + report.SPARSITY_COLUMNS
    )
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| sparsity | gzipped |" in markdown
    assert "| student pruned |" in markdown and f"{expected['overall']:.1%}" in markdown
    assert "## Pruning" in markdown and "does not make a model faster" in markdown
    assert f"| {dense_layer.name} | " in markdown
    assert "Kernel sparsity of student," not in markdown
