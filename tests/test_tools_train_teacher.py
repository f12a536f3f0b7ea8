"""Tests of tools/train_teacher.py: a run resumed across two commands is
recorded whole, the weights file holds no optimizer state, and bad arguments
are refused before any training."""

import json
import pathlib

import h5py
import numpy as np
import pytest

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"


@pytest.fixture(scope="module")
def train_teacher(load_script):
    return load_script(TOOLS / "train_teacher.py")


class _Interrupted(Exception):
    pass


def test_a_resumed_run_is_recorded_whole(
    train_teacher, require_full_fashion_mnist, tmp_path, monkeypatch
):
    """Needs the full Fashion-MNIST: the tool trains on it and the test
    scores the saved teacher on its 10,000 test images."""
    output = tmp_path / "tiny.weights.h5"
    argv = [
        "--arch", "vgg", "--stage-filters", "4,8,8", "--epochs", "2",
        "--subset", "256", "--flip-tta", "no", "--seed", "3",
        "--output", str(output), "--backup-dir", str(tmp_path / "backup"),
    ]  # fmt: skip
    record_path = tmp_path / "backup_epochs.json"
    end_of_epoch = train_teacher.EpochRecord.on_epoch_end

    def stop_after_the_first_epoch(self, epoch, logs=None):
        end_of_epoch(self, epoch, logs)
        raise _Interrupted  # as a killed run: the backup stays

    monkeypatch.setattr(
        train_teacher.EpochRecord, "on_epoch_end", stop_after_the_first_epoch
    )
    with pytest.raises(_Interrupted):
        train_teacher.main(argv)
    assert not output.exists()
    first = json.loads(record_path.read_text())["epochs"]
    assert [entry["epoch"] for entry in first] == [1]

    monkeypatch.setattr(train_teacher.EpochRecord, "on_epoch_end", end_of_epoch)
    train_teacher.main(argv)  # resumes from the backup at epoch 2

    summary = json.loads((tmp_path / "tiny.weights.h5.json").read_text())
    assert summary["completed_epochs"] == 2
    assert summary["train_samples"] == 256
    assert summary["seconds_per_epoch"][0] == first[0]["seconds"]
    assert len(summary["seconds_per_epoch"]) == 2
    assert [part["epochs"] for part in summary["parts"]] == [[1, 1], [2, 2]]
    assert summary["parts"][0]["started"] != summary["parts"][1]["started"]
    assert summary["seconds"] >= summary["seconds_this_command"]

    with h5py.File(output) as weights_file:
        assert "optimizer" not in weights_file  # the network's weights alone
    teacher_models = train_teacher.sys.modules["teacher_models"]
    teacher = teacher_models.load_pretrained_teacher(str(output))
    from kdkeras.datasets import load_fashion_mnist

    _, (x_test, y_test) = load_fashion_mnist()
    predictions = teacher.predict(x_test[..., None], batch_size=1000, verbose=0)
    accuracy = np.mean(np.argmax(predictions, axis=-1) == y_test)
    assert summary["test_accuracy"] == pytest.approx(accuracy, abs=5e-5)


def test_the_record_keeps_the_epochs_before_the_resumed_one(train_teacher, tmp_path):
    record_path = tmp_path / "epochs.json"
    record_path.write_text(
        json.dumps(
            {
                "epochs": [
                    {"epoch": 1, "seconds": 10.0, "command": "a", "started": "t1"},
                    {"epoch": 2, "seconds": 20.0, "command": "a", "started": "t1"},
                    {"epoch": 3, "seconds": 30.0, "command": "b", "started": "t2"},
                ]
            }
        )
    )
    record = train_teacher.EpochRecord(record_path=str(record_path), command="c")
    record.on_epoch_begin(2)  # the backup was of epoch 2: epoch 3 is redone

    assert [entry["seconds"] for entry in record.epochs] == [10.0, 20.0]
    assert record.parts() == [
        {"command": "a", "started": "t1", "epochs": [1, 2], "seconds": 30}
    ]
    fresh = train_teacher.EpochRecord(record_path=str(record_path), command="c")
    fresh.on_epoch_begin(0)  # no backup: a new run
    assert fresh.epochs == [] and fresh.parts() == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--output", "teacher.h5"], "--output: expected a path ending in .weights.h5"),
        (["--stage-filters", "4,x"], "--stage-filters: expected comma-separated"),
        (["--epochs", "0"], "--epochs: expected a positive integer, received 0"),
        (["--subset", "10"], "--subset: expected at least --batch-size (128)"),
    ],
)
def test_bad_arguments_are_refused(train_teacher, argv, message, capsys):
    with pytest.raises(SystemExit):
        train_teacher.parse_args(argv)
    assert message in capsys.readouterr().err
