"""The command line's one rule for failures: a line or two naming the file or
key path, exit code 2 for a bad config, data or run folder, 1 for a failure
while running, the traceback only with `--debug` (or `KDKERAS_DEBUG=1`), and
TensorFlow's start-up log silenced so the first line is kdkeras'."""

import json
import os
import subprocess
import sys

import keras
import pytest
import yaml
from cli_helpers import assert_refused, invoke

import kdkeras
from kdkeras.cli import quiet_tensorflow
from kdkeras.cli.failures import as_click_exception
from kdkeras.config import validate_config
from kdkeras.models import build_cnn
from kdkeras.pipeline.gates import WeakTeacherError
from kdkeras.pipeline.run_folder import RunFolder


def assert_short_error(result, code, *words, traceback=False):
    """Exit `code`; an `Error:` line holding `words`; a traceback or not."""
    assert_refused(result, code, *words, traceback=traceback, max_lines=8)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    build_cnn(num_classes=3, filters=(4,), dense_units=None, name="tiny").save(path)
    return path


@pytest.fixture
def tiny_config_path(tmp_path, image_folder, tiny_model_path, tiny_run_sections):
    config = tiny_run_sections(image_folder, tiny_model_path, tmp_path / "runs")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize("debug", ["", "--debug", "KDKERAS_DEBUG=1"])
def test_a_bad_config_exits_2_with_the_traceback_only_in_debug(
    tiny_config_path, tmp_path, debug
):
    args = ["run", tiny_config_path, "--set", "distill.alpah=2"]
    env = {"KDKERAS_DEBUG": "1"} if debug == "KDKERAS_DEBUG=1" else {}
    if debug == "--debug":
        args.insert(0, "--debug")
    result = invoke(*args, env=env)
    assert_short_error(
        result,
        2,
        "distill.alpah: unknown key (received: 2)",
        str(tiny_config_path),
        traceback=bool(debug),
    )
    if debug:
        assert "kdkeras.config.errors.ConfigError" in result.output
    assert not os.path.exists(tmp_path / "runs")


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (
            WeakTeacherError("teacher: validation accuracy 0.33, at chance"),
            1,
            ["teacher: validation accuracy 0.33, at chance"],
        ),
        (
            kdkeras.NonFiniteLossError("distill: student_loss is nan at batch 3"),
            1,
            ["student_loss is nan at batch 3"],
        ),
        (
            OSError(28, "No space left on device", "/runs/x/models/a.keras"),
            1,
            ["No space left on device", "/runs/x/models/a.keras"],
        ),
        (
            KeyError("shards"),
            1,
            ["KeyError: 'shards'", "an unexpected error", "--debug"],
        ),
    ],
    ids=["weak-teacher", "nan-loss", "disk-full", "unexpected"],
)
def test_failures_while_running_exit_1(
    tiny_config_path, tmp_path, monkeypatch, error, code, words
):
    import kdkeras.pipeline

    def failing_run(*args, **kwargs):
        raise error

    monkeypatch.setattr(kdkeras.pipeline, "start_run", failing_run)
    result = invoke("run", tiny_config_path)
    assert_short_error(result, code, *words)
    result = invoke("--debug", "run", tiny_config_path)
    assert_short_error(result, code, *words, traceback=True)
    assert f"{type(error).__name__}" in result.output


def test_a_long_message_is_cut():
    error = as_click_exception(ValueError("vocab.txt line 3: " + "x" * 4_000_000))
    assert error.exit_code == 1
    assert len(error.message) < 1000 and "x…" in error.message
    error = as_click_exception(RuntimeError("vocab.txt line 3: " + "x" * 4_000_000))
    assert len(error.message) < 1000 and "x…" in error.message
    many = "\n".join(f"data.path: file {i} does not decode" for i in range(500))
    config_error = as_click_exception(kdkeras.config.ConfigError([many]))
    assert config_error.exit_code == 2
    lines = config_error.message.splitlines()
    assert len(lines) == 20 and lines[-1] == "… and 482 more lines"


def test_a_text_file_named_model_keras_is_named(tmp_path):
    model = tmp_path / "model.keras"
    model.write_text("not a model\n", encoding="utf-8")
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n", encoding="utf-8")
    result = invoke(
        "export", model, "--output", tmp_path / "p", "--labels", labels, "-q", "float32"
    )
    assert_short_error(
        result,
        2,
        f"MODEL: expected a Keras model file (.keras) that loads; received {model}",
    )
    assert "File not found" not in result.output
    assert not os.path.exists(tmp_path / "p")


def test_report_labels_that_do_not_fit_exit_2(tiny_model_path, image_folder, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("bag\nsneaker\n", encoding="utf-8")
    result = invoke(
        "report",
        tiny_model_path,
        "--data",
        image_folder,
        "--labels",
        labels,
        "--output",
        tmp_path / "report",
        "--latency-runs",
        0,
    )
    assert_short_error(result, 2, "class_names")
    assert not os.path.exists(tmp_path / "report")


def run_folder(tmp_path, **sections):
    config = validate_config(
        {
            "run": {"name": "resumed", "output_dir": str(tmp_path / "runs")},
            "data": {"source": "mnist"},
            **sections,
        }
    )
    return RunFolder.create(config)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"kdkeras_version": "0.1.0", "stages": {"teach', "not JSON, truncated"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("[1, 2]", "expected a JSON object; received list"),
        ('{"kdkeras_version": "0.1.0", "stages": []}', "stages: Input should be"),
        (
            '{"kdkeras_version": "0.1.0", "stages": {"teacher": {"finished": 3, '
            '"artifacts": {}}}}',
            "stages.teacher.finished: Input should be a valid string (received: 3)",
        ),
        (
            '{"kdkeras_version": "0.1.0", "stages": {}, "findings": [{"stage": '
            '"x", "kind": "oops", "message": "m"}]}',
            "findings[0].kind",
        ),
    ],
    ids=["truncated", "not-utf8", "list", "stages-list", "finished-int", "kind"],
)
def test_a_damaged_state_json_exits_2_saying_how_to_go_on(tmp_path, content, words):
    folder = run_folder(tmp_path)
    state = folder.file("state.json")
    with open(state, "wb") as file:
        file.write(content if isinstance(content, bytes) else content.encode())
    before = sorted(os.listdir(folder.path))
    result = invoke("run", "--resume", folder.path)
    assert_short_error(
        result,
        2,
        f"{state}: expected the state file kdkeras run writes",
        words,
        f"kdkeras run {folder.file('config.yaml')}",
    )
    assert sorted(os.listdir(folder.path)) == before
    result = invoke("--debug", "run", "--resume", folder.path)
    assert_short_error(result, 2, words, traceback=True)
    assert "StateFileError" in result.output


def test_resume_refuses_a_changed_config(tmp_path):
    folder = run_folder(tmp_path, student={"width": 1.0}, distill={"epochs": 3})
    config_path = folder.file("config.yaml")
    data = yaml.safe_load(open(config_path, encoding="utf-8"))
    data["student"]["width"] = 0.5
    data["distill"]["epochs"] = 5
    with open(config_path, "w", encoding="utf-8") as file:
        yaml.safe_dump(data, file)
    state = open(folder.file("state.json"), encoding="utf-8").read()
    result = invoke("run", "--resume", folder.path)
    assert_short_error(
        result,
        2,
        f"{config_path}: expected the config the run started with; received 2 "
        "changed key(s)",
        "student.width: 1.0 → 0.5",
        "distill.epochs: 3 → 5",
        "--allow-changed-config",
    )
    assert open(folder.file("state.json"), encoding="utf-8").read() == state
    # --allow-changed-config belongs to --resume.
    result = invoke("run", config_path, "--allow-changed-config")
    assert result.exit_code == 2 and "goes with --resume" in result.output


def test_first_line_is_kdkeras_and_tensorflow_start_up_is_silent(tmp_path):
    """A real `kdkeras` process, TensorFlow imported, no TF_CPP_MIN_LOG_LEVEL:
    the image check fails after TensorFlow loaded, and its error is the
    first line."""
    photos = tmp_path / "photos"
    for name in ("cat", "dog"):
        (photos / name).mkdir(parents=True)
        (photos / name / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    config = tmp_path / "photos.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "source": "image_folder",
                    "path": str(photos),
                    "image_size": [28, 28],
                    "color_mode": "grayscale",
                }
            }
        ),
        encoding="utf-8",
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TF_CPP_MIN_LOG_LEVEL", "KDKERAS_DEBUG")
    }
    result = subprocess.run(
        [sys.executable, "-m", "kdkeras", "run", str(config)]
        + ["--output", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: Invalid config"), result.stderr[:3000]
    assert "broken.png" in result.stderr
    for noise in ("absl", "oneDNN", "cudart", "cuInit", "Traceback"):
        assert noise not in result.stderr, result.stderr[:3000]
    assert not os.path.exists(tmp_path / "runs")


def test_start_up_noise_follows_the_log_level():
    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are "
        "written to STDERR\n"
        "I0000 00:00:1796534131.802845   24943 port.cc:153] oneDNN custom "
        "operations are on.\n"
        "I0000 00:00:1796534131.901392   24943 cpu_feature_guard.cc:227] This "
        "TensorFlow binary is optimized\n"
        "To enable the following instructions: AVX2 FMA, in other operations.\n"
        "E0000 00:00:1796534131.901392   24943 cuda_platform.cc:52] failed call "
        "to cuInit\n"
        "/x/y.py:3: UserWarning: a Python warning\n"
    )
    lines = quiet_tensorflow.without_startup_noise(text, 2).splitlines()
    assert [line[:6] for line in lines] == ["E0000 ", "/x/y.p"]
    lines = quiet_tensorflow.without_startup_noise(text, 3).splitlines()
    assert lines == ["/x/y.py:3: UserWarning: a Python warning"]
    assert quiet_tensorflow.without_startup_noise(text, 0) == text


def test_state_json_stays_valid_json(tmp_path):
    folder = run_folder(tmp_path)
    folder.mark_finished("teacher", model=folder.model_path("teacher"))
    assert json.load(open(folder.file("state.json")))["stages"]["teacher"]
    assert not [n for n in os.listdir(folder.path) if n.startswith(".partial-")]
