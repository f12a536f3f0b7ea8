"""End-to-end runs of the examples on small real data."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_keras_io_example_runs_with_kdkeras_distiller():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / "keras_io_distillation.py"), "--quick"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert "distillation_loss" in completed.stdout
    assert "test accuracy: distilled student" in completed.stdout


@pytest.mark.slow
def test_scikit_learn_teacher_is_distilled_offline(tmp_path, load_script):
    results = load_script(EXAMPLES / "sklearn_teacher.py").main(
        ["--epochs", "30", "--cache", str(tmp_path / "logits.npz")]
    )
    assert (tmp_path / "logits.npz").exists()
    assert results["student distilled"] >= results["student from scratch"]
    assert results["student distilled"] > 0.9


@pytest.mark.slow
def test_transfer_learning_example_runs(capsys, load_script):
    rows = load_script(EXAMPLES / "transfer_learning.py").main(
        ["--quick", "--weights", "none"]
    )
    assert [row["name"] for row in rows] == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
    ]
    # MobileNetV2 (width 0.35) teacher, the demo's 9k-parameter CNN student.
    assert rows[0]["parameters"] > 40 * rows[2]["parameters"]
    assert rows[1]["parameters"] == rows[2]["parameters"]
