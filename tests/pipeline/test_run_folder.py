"""The run folder: its name, the config written into it, and the state."""

import datetime
import json
import os

import pytest

from kdkeras.config import validate_config
from kdkeras.pipeline.run_folder import RunFolder, RunFolderError

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
