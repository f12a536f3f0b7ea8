"""`kdkeras run` killed with `kill -9` in the middle of distillation, then
`kdkeras run --resume`: no finished epoch is lost, no finished stage is redone."""

import csv
import glob
import json
import os
import signal
import subprocess
import sys
import time

import keras
import pytest
import yaml

from kdkeras.models import build_cnn

DISTILL_EPOCHS = 12


def kdkeras_command(*args):
    return [sys.executable, "-m", "kdkeras", *map(str, args)]


def distill_epoch_saved(output_dir):
    """The epoch the distillation backup holds, or 0."""
    paths = glob.glob(
        os.path.join(
            output_dir, "*", "checkpoints", "distill", "training_metadata.json"
        )
    )
    for path in paths:
        try:
            with open(path) as file:
                return json.load(file)["epoch"]
        except (OSError, ValueError):
            return 0  # Being written.
    return 0


@pytest.mark.slow
def test_kill_9_then_resume(image_folder, tmp_path):
    keras.utils.set_random_seed(0)
    teacher_path = tmp_path / "teacher.keras"
    build_cnn(num_classes=3, filters=(4,), dense_units=None).save(teacher_path)
    config = {
        "run": {"name": "killed"},
        "data": {
            "source": "image_folder",
            "path": str(image_folder),
            "image_size": [28, 28],
            "color_mode": "grayscale",
        },
        "teacher": {"path": str(teacher_path)},
        "student": {"filters": [4]},
        "scratch": {"epochs": 1, "batch_size": 16},
        "distill": {
            "epochs": DISTILL_EPOCHS,
            "batch_size": 16,
            "allow_weak_teacher": True,
        },
        "export": {"enabled": False},
        "report": {"enabled": False},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    output_dir = tmp_path / "runs"
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

    process = subprocess.Popen(
        kdkeras_command("run", config_path, "--output", output_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=environment,
    )
    deadline = time.monotonic() + 300
    while distill_epoch_saved(output_dir) < 2:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no distillation epoch saved in time"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL

    [run_dir] = glob.glob(os.path.join(output_dir, "*"))
    state = json.load(open(os.path.join(run_dir, "state.json")))
    assert list(state["stages"]) == ["teacher", "scratch"]
    resumed = subprocess.run(
        kdkeras_command("run", "--resume", run_dir),
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]

    state = json.load(open(os.path.join(run_dir, "state.json")))
    assert list(state["stages"]) == ["teacher", "scratch", "distill"]
    with open(os.path.join(run_dir, "history", "distill.csv"), newline="") as file:
        epochs = [int(row["epoch"]) for row in csv.DictReader(file)]
    # Every epoch is there; the resumed run did not start over (epoch 0 once);
    # at most the epoch running at the kill is logged twice.
    assert sorted(set(epochs)) == list(range(DISTILL_EPOCHS))
    assert epochs.count(0) == 1 and len(epochs) - DISTILL_EPOCHS <= 1
    log = open(os.path.join(run_dir, "run.log"), encoding="utf-8").read()
    assert log.count("[scratch] starting") == 1
    assert "[scratch] finished before: loaded" in log
    assert os.path.exists(os.path.join(run_dir, "models", "student_distilled.keras"))
