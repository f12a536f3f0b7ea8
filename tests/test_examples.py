"""End-to-end runs of the examples on small real data."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
def test_scikit_learn_teacher_is_distilled_offline(tmp_path):
    results = _load("sklearn_teacher").main(
        ["--epochs", "30", "--cache", str(tmp_path / "logits.npz")]
    )
    assert (tmp_path / "logits.npz").exists()
    assert results["student distilled"] >= results["student from scratch"]
    assert results["student distilled"] > 0.9


@pytest.mark.slow
def test_transfer_learning_example_runs(capsys):
    rows = _load("transfer_learning").main(["--quick", "--weights", "none"])
    assert [row["name"] for row in rows] == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
    ]
    # MobileNetV2 (width 0.35) teacher, the demo's 9k-parameter CNN student.
    assert rows[0]["parameters"] > 40 * rows[2]["parameters"]
    assert rows[1]["parameters"] == rows[2]["parameters"]
