"""The run folder: its name, the config written into it, the state (read
with a schema, written atomically), the config it started with, and the
outputs a stopped run wrote but did not record."""

import datetime
import json
import logging
import os

import pytest

from kdkeras.config import validate_config
from kdkeras.pipeline.run_folder import (
    ChangedConfigError,
    RunFolder,
    RunFolderError,
    StateFileError,
    config_differences,
)
from kdkeras.pipeline.runner import forget_unrecorded

NOW = datetime.datetime(2026, 11, 30, 12, 0, 5, tzinfo=datetime.timezone.utc)


@pytest.fixture
def config(tmp_path):
    return validate_config(
        {
            "run": {"name": "trial", "output_dir": str(tmp_path / "runs")},
            "data": {"source": "mnist"},
        }
    )


def test_folder_is_named_after_the_run_and_the_time(config, tmp_path):
    folder = RunFolder.create(config, now=NOW)
    assert folder.path == str(tmp_path / "runs" / "trial-20261130-120005")
    # Two runs in the same second do not share a folder.
    second = RunFolder.create(config, now=NOW)
    assert second.path == folder.path + "-2"
    assert RunFolder.open(folder.path).load_config() == config


def test_output_dir_argument_wins(config, tmp_path):
    folder = RunFolder.create(config, output_dir=tmp_path / "elsewhere", now=NOW)
    assert folder.path.startswith(str(tmp_path / "elsewhere"))


def test_state_records_finished_stages_relative_to_the_folder(config, tmp_path):
    folder = RunFolder.create(config, now=NOW)
    model = folder.model_path("teacher")
    folder.mark_finished("teacher", model=model, external="/data/teacher.keras")
    folder.mark_finished("export", tflite={"int8": os.path.join(folder.path, "a")})
    assert folder.finished_stages() == ["teacher", "export"]
    stored = json.load(open(folder.file("state.json")))
    assert stored["stages"]["teacher"]["artifacts"]["model"] == (
        "run:models/teacher.keras"
    )
    # A moved folder still finds its files.
    moved = tmp_path / "moved"
    os.rename(folder.path, moved)
    reopened = RunFolder.open(moved)
    assert reopened.artifacts("teacher") == {
        "model": str(moved / "models" / "teacher.keras"),
        "external": "/data/teacher.keras",
    }
    assert reopened.artifacts("export") == {"tflite": {"int8": str(moved / "a")}}
    assert reopened.is_finished("export") and not reopened.is_finished("report")


def test_open_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(RunFolderError, match="missing config.yaml, state.json"):
        RunFolder.open(tmp_path)


def test_log_goes_to_the_file_and_stops_after(config, capsys):
    folder = RunFolder.create(config, now=NOW)
    with folder.logging_to_file() as log:
        log.info("[teacher] done in 3 s")
    log.info("after the run")
    text = open(folder.file("run.log"), encoding="utf-8").read()
    assert text.endswith("[teacher] done in 3 s\n") and "after" not in text
    assert capsys.readouterr().out == "[teacher] done in 3 s\n"


def test_the_config_the_run_started_with_is_kept_and_compared(config):
    folder = RunFolder.create(config, now=NOW)
    state = folder.state()
    assert state["config"]["run"]["name"] == "trial"
    assert folder.changed_config(folder.load_config()) == []
    assert folder.check_config_unchanged(folder.load_config()) == []
    edited = config.model_copy(
        update={"distill": config.distill.model_copy(update={"epochs": 7})}
    )
    assert folder.changed_config(edited) == [
        f"distill.epochs: {config.distill.epochs} → 7"
    ]
    with pytest.raises(ChangedConfigError, match="distill.epochs: .* → 7"):
        folder.check_config_unchanged(edited)
    assert folder.state() == state  # Refused: nothing written.
    # Allowed: the edited config is the one later resumes compare with.
    assert len(folder.check_config_unchanged(edited, allow_changed=True)) == 1
    assert folder.changed_config(edited) == []


def test_config_differences_name_each_key_path():
    before = {"student": {"width": 16, "filters": [4]}, "seed": 0, "old": 1}
    after = {"student": {"width": 32, "filters": [4, 8]}, "seed": 0, "new": "x" * 80}
    assert config_differences(before, after) == [
        "student.width: 16 → 32",
        "student.filters: [4] → [4, 8]",
        "old: 1 → (absent)",
        'new: (absent) → "' + "x" * 58 + "…",
    ]


def test_a_run_folder_of_an_older_kdkeras_without_a_config_resumes(config):
    folder = RunFolder.create(config, now=NOW)
    state = folder.state()
    del state["config"]
    folder._write_state(state)
    assert folder.check_config_unchanged(folder.load_config()) == []
    assert folder.state()["config"]["run"]["name"] == "trial"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("", "not JSON, truncated or damaged (Expecting value: line 1, column 1)"),
        ('{"stages": {}}', "kdkeras_version: Field required"),
        ('{"kdkeras_version": 1, "stages": {}}', "kdkeras_version: Input should be"),
    ],
)
def test_a_damaged_state_is_refused_when_the_folder_opens(config, content, words):
    folder = RunFolder.create(config, now=NOW)
    with open(folder.file("state.json"), "w", encoding="utf-8") as file:
        file.write(content)
    with pytest.raises(StateFileError) as info:
        RunFolder.open(folder.path)
    message = str(info.value)
    assert message.startswith(f"{folder.file('state.json')}: expected the state")
    assert words in message
    assert f"kdkeras run {folder.file('config.yaml')}" in message


def test_a_failed_state_write_keeps_the_old_state_whole(config, monkeypatch):
    folder = RunFolder.create(config, now=NOW)
    folder.mark_finished("teacher", model=folder.model_path("teacher"))
    before = open(folder.file("state.json"), encoding="utf-8").read()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(json, "dump", disk_full)
    with pytest.raises(OSError, match="No space left"):
        folder.mark_finished("scratch", model="/data/scratch.keras")
    assert open(folder.file("state.json"), encoding="utf-8").read() == before
    assert not [name for name in os.listdir(folder.path) if ".partial" in name]
    monkeypatch.undo()
    assert RunFolder.open(folder.path).finished_stages() == ["teacher"]


def test_an_output_written_but_not_recorded_is_removed_before_the_redo(config, caplog):
    folder = RunFolder.create(config, now=NOW)
    log = logging.getLogger("test_run_folder")
    model = folder.model_path("student_scratch")
    open(model, "wb").write(b"a finished model")
    history = folder.history_path("scratch")
    open(history, "w").write("epoch,loss\n0,1.0\n")
    os.makedirs(folder.tensorboard_dir("scratch"))
    with caplog.at_level(logging.INFO, logger="test_run_folder"):
        assert forget_unrecorded(folder, "scratch", log)
    assert (
        "[scratch] models/student_scratch.keras was written but the stage is not "
        "recorded in state.json (the run stopped between the two): the stage runs "
        "again"
    ) in caplog.text
    assert not os.path.exists(model) and not os.path.exists(history)
    assert not os.path.exists(folder.tensorboard_dir("scratch"))
    assert not forget_unrecorded(folder, "scratch", log)
    # An interrupted training (its backup there) keeps the epochs it logged.
    open(model, "wb").write(b"a finished model")
    open(history, "w").write("epoch,loss\n0,1.0\n")
    os.makedirs(folder.checkpoint_dir("scratch"))
    assert forget_unrecorded(folder, "scratch", log)
    assert not os.path.exists(model) and os.path.exists(history)
    # The package and report folders too.
    os.makedirs(folder.file("package"))
    open(folder.file("package", "labels.txt"), "w").write("a\n")
    assert forget_unrecorded(folder, "export", log)
    assert not os.path.exists(folder.file("package"))
