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
    rows = evaluate.ensemble_accuracies(["a", "b"], [a, b], [flipped_a, b], labels)
    assert [members for members, _, _ in rows] == [("a",), ("b",), ("a", "b")]
    plain = {members: accuracy for members, accuracy, _ in rows}
    tta = {members: accuracy for members, _, accuracy in rows}
    assert plain[("a",)] == pytest.approx(2 / 3)
    assert plain[("b",)] == pytest.approx(2 / 3)
    assert plain[("a", "b")] == pytest.approx(1.0)
    # a with TTA: sample 0 becomes (a + flipped_a) / 2 = [-1, 0, 0] -> class
    # 1 (the first of the ties): wrong; sample 1 right, sample 2 wrong.
    assert tta[("a",)] == pytest.approx(1 / 3)
    assert tta[("b",)] == pytest.approx(2 / 3)  # b's flips: the same logits
    # a + b with TTA, sample 0: mean of [-1, 0, 0] and [0, 1, 0] -> class 1.
    assert tta[("a", "b")] == pytest.approx(2 / 3)


def test_teacher_logits_of_a_saved_teacher(evaluate, tiny_saved_teacher):
    model, path = tiny_saved_teacher
    images = np.random.default_rng(0).integers(0, 255, (6, 28, 28, 1), dtype="uint8")

    logits, flipped = evaluate.teacher_logits(path, images)

    np.testing.assert_allclose(logits, model.predict(images, verbose=0), atol=1e-5)
    np.testing.assert_allclose(
        flipped, model.predict(images[:, :, ::-1, :], verbose=0), atol=1e-5
    )


def test_a_weights_file_without_its_json_is_refused(evaluate, tmp_path, capsys):
    path = tmp_path / "lonely.weights.h5"
    path.write_bytes(b"")
    with pytest.raises(SystemExit):
        evaluate.parse_args([str(path)])
    message = capsys.readouterr().err
    assert "weights: expected a tools/train_teacher.py weights file" in message
    assert "lonely.weights.h5.json" in message
