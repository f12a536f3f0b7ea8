import numpy as np

from kdkeras.evaluation.report_plots import plot_confusion_matrices, plot_tradeoffs


def _row(name, accuracy, size_bytes, matrix, fmt="keras", latency=None):
    row = {
        "name": name,
        "format": fmt,
        "accuracy": accuracy,
        "size_bytes": size_bytes,
        "confusion_matrix": matrix,
    }
    if latency is not None:
        row["latency_median_ms"] = latency
    return row


def test_tradeoffs_without_latency_is_one_panel_of_size():
    rows = [
        _row("teacher", 0.9, 2048, [[9, 1], [1, 9]]),
        _row("student int8", 0.8, 512, [[8, 2], [2, 8]], fmt="litert"),
    ]
    figure = plot_tradeoffs(rows, "Two models")
    (axis,) = figure.axes
    assert axis.get_xlabel() == "size on disk (KB)"
    assert axis.get_xscale() == "log"
    points = np.concatenate([c.get_offsets() for c in axis.collections])
    np.testing.assert_allclose(points, [(2.0, 0.9), (0.5, 0.8)])
    assert [text.get_text() for text in axis.texts] == ["teacher", "student int8"]
    assert figure._suptitle.get_text() == (
        "Two models (circles: Keras, squares: LiteRT)"
    )


def test_tradeoffs_skip_a_model_without_latency_in_the_latency_panel():
    rows = [
        _row("teacher", 0.9, 1024, [[1]], latency=4.0),
        _row("student", 0.8, 1024, [[1]]),
    ]
    size_axis, latency_axis = plot_tradeoffs(rows, "t").axes
    assert len(size_axis.collections) == 2
    (point,) = [c.get_offsets() for c in latency_axis.collections]
    np.testing.assert_allclose(point, [(4.0, 0.9)])


def test_confusion_matrices_three_to_a_line_with_default_labels():
    matrix = [[3, 1, 0], [0, 4, 0], [1, 0, 2]]
    rows = [_row(f"model {i}", 9 / 11, 1, matrix) for i in range(4)]
    figure = plot_confusion_matrices(rows)
    assert len(figure.axes) == 6  # two lines of three panels
    visible = [axis for axis in figure.axes if axis.get_visible()]
    assert len(visible) == 4
    for axis in visible:
        (image,) = axis.get_images()
        np.testing.assert_array_equal(image.get_array(), matrix)
        assert [t.get_text() for t in axis.get_xticklabels()] == ["0", "1", "2"]
        # Counts written in the cells (3 classes, at most 20).
        assert sorted(t.get_text() for t in axis.texts) == sorted(
            str(count) for line in matrix for count in line
        )


def test_confusion_matrices_of_many_classes_leave_the_cells_blank():
    matrix = np.eye(21, dtype=int).tolist()
    (axis,) = plot_confusion_matrices([_row("wide", 1.0, 1, matrix)]).axes
    assert len(axis.texts) == 0
