"""Tests of tools/evaluate_teachers.py: ensemble accuracies by hand, and the
logits of saved teachers on images and their flips."""

import pathlib

import numpy as np
import pytest

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"


@pytest.fixture(scope="module")
def evaluate(load_script):
    return load_script(TOOLS / "evaluate_teachers.py")


def test_ensemble_accuracies_by_hand(evaluate):
    labels = np.array([0, 1, 2])
    # Teacher a: right on 0 and 1; teacher b: right on 1 and 2.
    a = np.array([[2.0, 0, 0], [0, 1, 0], [3, 0, 0]])
    b = np.array([[0.0, 1, 0], [0, 2, 0], [0, 0, 4]])
    # Mean logits: [1, .5, 0] -> 0 right; [0, 1.5, 0] -> 1 right;
    # [1.5, 0, 2] -> 2 right: 3 of 3.
    flipped_a = np.array([[-4.0, 0, 0], [0, 1, 0], [3, 0, 0]])
    logits = [
        {"plain": a, "flip TTA": (a + flipped_a) / 2},
        {"plain": b, "flip TTA": b},  # b's flips: the same logits
    ]
    rows = evaluate.ensemble_accuracies(["a", "b"], logits, labels)
    assert [members for members, _ in rows] == [("a",), ("b",), ("a", "b")]
    plain = {members: accuracies["plain"] for members, accuracies in rows}
    tta = {members: accuracies["flip TTA"] for members, accuracies in rows}
    assert plain[("a",)] == pytest.approx(2 / 3)
    assert plain[("b",)] == pytest.approx(2 / 3)
    assert plain[("a", "b")] == pytest.approx(1.0)
    # a with TTA: sample 0 becomes (a + flipped_a) / 2 = [-1, 0, 0] -> class
    # 1 (the first of the ties): wrong; sample 1 right, sample 2 wrong.
    assert tta[("a",)] == pytest.approx(1 / 3)
    assert tta[("b",)] == pytest.approx(2 / 3)
    # a + b with TTA, sample 0: mean of [-1, 0, 0] and [0, 1, 0] -> class 1.
    assert tta[("a", "b")] == pytest.approx(2 / 3)


def test_shifted_moves_the_pixels_and_fills_zeros(evaluate):
    teacher_models = evaluate.sys.modules["teacher_models"]
    image = np.arange(1, 10, dtype="uint8").reshape(1, 3, 3, 1)  # rows 123/456/789
    down = teacher_models.shifted(image, 1, 0)[0, :, :, 0]
    np.testing.assert_array_equal(down, [[0, 0, 0], [1, 2, 3], [4, 5, 6]])
    left = teacher_models.shifted(image, 0, -1)[0, :, :, 0]
    np.testing.assert_array_equal(left, [[2, 3, 0], [5, 6, 0], [8, 9, 0]])


def test_teacher_logits_of_a_saved_teacher(evaluate, tiny_saved_teacher, monkeypatch):
    model, path = tiny_saved_teacher
    images = np.random.default_rng(0).integers(0, 255, (6, 28, 28, 1), dtype="uint8")
    teacher_models = evaluate.sys.modules["teacher_models"]
    predicted_views = []

    def counted(network, views, batch_size=500):
        predicted_views.append(views)
        return logits_with_flips(network, views, batch_size)

    logits_with_flips = teacher_models.logits_with_flips
    monkeypatch.setattr(teacher_models, "logits_with_flips", counted)
    monkeypatch.setattr(evaluate, "logits_with_flips", counted)

    logits = evaluate.teacher_logits(path, images, shift=1)

    # Each of the 9 shifts (the unshifted images among them) predicted once,
    # with its flip.
    assert len(predicted_views) == 9

    def predict(views):
        return model.predict(views, verbose=0)

    mirrored = images[:, :, ::-1, :]
    np.testing.assert_allclose(logits["plain"], predict(images), atol=1e-5)
    np.testing.assert_allclose(
        logits["flip TTA"], (predict(images) + predict(mirrored)) / 2, atol=1e-5
    )
    # The 9 shifts by up to one pixel (zeros fill the border), each flipped.
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)])
    views = [
        padded[:, row : row + 28, column : column + 28]
        for row in range(3)
        for column in range(3)
    ]
    expected = np.mean(
        [predict(view) for view in views] + [predict(v[:, :, ::-1]) for v in views],
        axis=0,
    )
    np.testing.assert_allclose(logits["shift and flip TTA"], expected, atol=1e-5)


def test_a_weights_file_without_its_json_is_refused(evaluate, tmp_path, capsys):
    path = tmp_path / "lonely.weights.h5"
    path.write_bytes(b"")
    with pytest.raises(SystemExit):
        evaluate.parse_args([str(path)])
    message = capsys.readouterr().err
    assert "weights: expected a tools/train_teacher.py weights file" in message
    assert "lonely.weights.h5.json" in message
