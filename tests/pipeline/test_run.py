"""`start_run` and `resume_run` on a tiny image folder: every stage, the run
folder's files, and a resume that skips finished stages and continues the
interrupted one from its last finished epoch."""

import csv
import json
import os

import keras
import numpy as np
import pytest
import yaml

import kdkeras
from kdkeras.config import validate_config
from kdkeras.models import build_cnn
from kdkeras.pipeline import planned_stages, resume_run, start_run
from kdkeras.pipeline.run_folder import ChangedConfigError, RunFolder


class SimulatedCrash(Exception):
    """Stands for a run killed in the middle of distillation."""


class CrashAfterFirstDistillEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if isinstance(self.model, kdkeras.Distiller) and epoch == 0:
            raise SimulatedCrash()


def history_epochs(folder, stage):
    with open(folder.history_path(stage), newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def test_planned_stages():
    config = validate_config(
        {"data": {"source": "mnist"}, "optimize": {"method": "qat"}}
    )
    assert planned_stages(config) == [
        "teacher",
        "scratch",
        "distill",
        "export",
        "optimize",
        "report",
    ]
    config = validate_config(
        {
            "data": {"source": "mnist"},
            "distill": {"enabled": False},
            "export": {"enabled": False},
        }
    )
    assert planned_stages(config) == ["scratch", "report"]


@pytest.mark.slow
def test_interrupted_run_resumes_without_redoing_finished_work(
    tiny_run_config, tiny_teacher_path, tmp_path
):
    config = tiny_run_config(
        tiny_teacher_path,
        tmp_path / "runs",
        distill={"epochs": 3},
        export={"enabled": False},
    )
    with pytest.raises(SimulatedCrash):
        start_run(config, extra_callbacks=[CrashAfterFirstDistillEpoch()])
    [name] = os.listdir(tmp_path / "runs")
    folder = RunFolder.open(tmp_path / "runs" / name)
    assert folder.finished_stages() == ["teacher", "scratch"]
    metadata = json.load(
        open(folder.file("checkpoints", "distill", "training_metadata.json"))
    )
    assert metadata["epoch"] == 1
    scratch_path = folder.model_path("student_scratch")
    scratch_written = os.stat(scratch_path).st_mtime_ns

    resume_run(folder.path)

    assert folder.finished_stages() == ["teacher", "scratch", "distill", "report"]
    assert os.stat(scratch_path).st_mtime_ns == scratch_written
    # Epoch 0 ran before the crash; the resumed fit ran epochs 1 and 2 only.
    assert history_epochs(folder, "distill") == [0, 1, 2]
    assert not os.path.exists(folder.checkpoint_dir("distill"))
    log = open(folder.file("run.log"), encoding="utf-8").read()
    assert (
        f"[distill] interrupted (SimulatedCrash). Continue with: kdkeras run "
        f"--resume {folder.path}"
    ) in log
    assert "[scratch] finished before: loaded" in log
    assert log.count("[scratch] starting") == 1
    assert log.count("[distill] starting") == 2
    report = json.load(open(folder.file("report", "report.json")))
    assert [row["name"] for row in report["rows"]] == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
    ]


def test_a_student_that_cannot_take_the_images_is_refused_before_training(
    tiny_run_config, tiny_teacher_path, tmp_path
):
    config = tiny_run_config(
        tiny_teacher_path,
        tmp_path / "runs",
        student={"architecture": "mobilenet_v2", "width": 0.35},
    )
    with pytest.raises(kdkeras.config.ConfigError, match="student.architecture"):
        start_run(config)
    assert not os.path.exists(tmp_path / "runs")


def test_a_ready_teacher_with_other_classes_is_refused(tiny_run_config, tmp_path):
    path = tmp_path / "teacher10.keras"
    build_cnn(num_classes=10, filters=(4,), dense_units=None).save(path)
    config = tiny_run_config(path, tmp_path / "runs")
    with pytest.raises(kdkeras.config.ConfigError) as info:
        start_run(config)
    assert str(info.value).startswith(
        "Invalid config:\n  teacher.path: expected a model"
    )
    assert "one output of 3 class scores" in str(info.value)


@pytest.fixture
def digits_npz(digits, tmp_path):
    """The 8×8 digits as a data `.npz` (300 training, 100 test images)."""
    x, y = digits
    path = tmp_path / "digits.npz"
    np.savez(
        path,
        x_train=x[:300],
        y_train=y[:300],
        x_test=x[300:400],
        y_test=y[300:400],
        class_names=np.array([f"digit {d}" for d in range(10)]),
    )
    return str(path)


@pytest.fixture
def digits_teacher_path(tmp_path):
    keras.utils.set_random_seed(0)
    path = tmp_path / "digits_teacher.keras"
    teacher = build_cnn(
        input_shape=(8, 8, 1), filters=(8,), dense_units=None, rescale=False
    )
    teacher.save(path)
    return str(path)


def digits_config(digits_npz, teacher_path, output_dir, **sections):
    data = {
        "run": {"name": "digits", "output_dir": str(output_dir)},
        "data": {"source": "npz", "path": digits_npz, "validation_split": 0.1},
        "teacher": {"path": teacher_path},
        "student": {"filters": [4], "pooling": "avg"},
        "scratch": {"enabled": False},
        "distill": {"epochs": 1, "batch_size": 32, "allow_weak_teacher": True},
        "report": {"latency_runs": 0},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return validate_config(data)


@pytest.mark.slow
def test_offline_distillation_caches_the_teacher_logits_once(
    digits_npz, digits_teacher_path, tmp_path
):
    config = digits_config(
        digits_npz,
        digits_teacher_path,
        tmp_path / "runs",
        distill={"mode": "offline"},
        export={"enabled": False},
    )
    folder = start_run(config)
    cache = folder.file("models", "teacher_logits.npz")
    assert np.load(cache)["teacher_logits"].shape == (270, 10)
    assert folder.finished_stages() == ["teacher", "distill", "report"]
    report = json.load(open(folder.file("report", "report.json")))
    assert report["class_names"][0] == "digit 0"
    assert sum(map(sum, report["rows"][1]["confusion_matrix"])) == 100


@pytest.mark.slow
def test_pruning_stage_adds_its_variants_to_the_package(
    digits_npz, digits_teacher_path, tmp_path
):
    pytest.importorskip("tensorflow_model_optimization")
    config = digits_config(
        digits_npz,
        digits_teacher_path,
        tmp_path / "runs",
        optimize={"method": "prune", "epochs": 1, "target_sparsity": 0.5},
        export={"quantizations": ["float32"]},
    )
    folder = start_run(config)
    assert folder.finished_stages()[-2:] == ["optimize", "report"]
    metadata = json.load(open(folder.file("package", "metadata.json")))
    assert sorted(metadata["variants"]) == ["float32", "pruned_float32"]
    rows = json.load(open(folder.file("report", "report.json")))["rows"]
    names = [row["name"] for row in rows]
    assert "student (optimized)" in names and "student pruned float32 .tflite" in names
    optimized = rows[names.index("student (optimized)")]
    assert optimized["sparsity"] >= 0.4


def test_ready_students_skip_training(image_folder, tiny_teacher_path, tmp_path):
    config = validate_config(
        {
            "run": {"name": "ready", "output_dir": str(tmp_path / "runs")},
            "data": {
                "source": "image_folder",
                "path": str(image_folder),
                "image_size": [28, 28],
                "color_mode": "grayscale",
            },
            "scratch": {"path": tiny_teacher_path},
            "distill": {"student_path": tiny_teacher_path},
            "export": {"enabled": False},
            "report": {"latency_runs": 0},
        }
    )
    assert planned_stages(config) == ["scratch", "distill", "report"]
    folder = start_run(config)
    assert folder.artifacts("distill") == {"model": tiny_teacher_path}
    assert not os.path.exists(folder.file("history"))
    rows = json.load(open(folder.file("report", "report.json")))["rows"]
    assert [row["name"] for row in rows] == ["student (scratch)", "student (distilled)"]


@pytest.mark.slow
def test_a_stage_saved_but_not_recorded_runs_again_and_a_changed_config_is_refused(
    tiny_run_config, tiny_teacher_path, tmp_path, monkeypatch
):
    config = tiny_run_config(
        tiny_teacher_path,
        tmp_path / "runs",
        distill={"enabled": False},
        export={"enabled": False},
        report={"enabled": False},
    )
    assert planned_stages(config) == ["teacher", "scratch"]
    record = RunFolder.mark_finished

    def killed_before_the_record(self, stage, **artifacts):
        if stage == "scratch":
            raise SimulatedCrash()
        return record(self, stage, **artifacts)

    monkeypatch.setattr(RunFolder, "mark_finished", killed_before_the_record)
    with pytest.raises(SimulatedCrash):
        start_run(config)
    monkeypatch.undo()
    [name] = os.listdir(tmp_path / "runs")
    folder = RunFolder.open(tmp_path / "runs" / name)
    assert folder.finished_stages() == ["teacher"]
    assert os.path.exists(folder.model_path("student_scratch"))
    assert history_epochs(folder, "scratch") == [0]

    resume_run(folder.path)

    assert folder.finished_stages() == ["teacher", "scratch"]
    # Redone from its start: its history holds the redone epoch once.
    assert history_epochs(folder, "scratch") == [0]
    log = open(folder.file("run.log"), encoding="utf-8").read()
    assert (
        "[scratch] models/student_scratch.keras was written but the stage is not "
        "recorded in state.json (the run stopped between the two): the stage runs "
        "again"
    ) in log
    assert log.count("[scratch] starting") == 2

    # config.yaml edited after the run: refused, then allowed with a warning.
    config_path = folder.file("config.yaml")
    edited = yaml.safe_load(open(config_path, encoding="utf-8"))
    edited["scratch"]["epochs"] = 2
    with open(config_path, "w", encoding="utf-8") as file:
        yaml.safe_dump(edited, file)
    with pytest.raises(ChangedConfigError, match=r"scratch.epochs: 1 → 2"):
        resume_run(folder.path)
    resume_run(folder.path, allow_changed_config=True)
    [warning] = folder.findings("warning")
    assert warning["stage"] == "resume"
    assert warning["message"].startswith(
        "config.yaml was changed since the run started (scratch.epochs: 1 → 2)"
    )
    assert "(teacher, scratch) keep what the old config made" in warning["message"]
    resume_run(folder.path)  # The accepted config is the one compared now.


MODEL_CARD = {
    "model_name": "bags-and-shoes",
    "description": "Tells bags, sneakers and trousers apart.",
    "version": "2.1",
    "author": "kdkeras tests",
    "license": "Apache-2.0",
}


@pytest.mark.slow
def test_an_image_folder_run_packages_an_int8_file_mediapipe_runs(
    tiny_run_config, tiny_teacher_path, tmp_path, mediapipe_check
):
    from kdkeras.export.embedded_metadata import read_metadata
    from kdkeras.pipeline.run_data import load_run_data

    config = tiny_run_config(
        tiny_teacher_path,
        tmp_path / "runs",
        scratch={"enabled": False},
        export={"quantizations": ["int8"], **MODEL_CARD},
        report={"enabled": False},
    )
    folder = start_run(config)
    metadata = json.load(open(folder.file("package", "metadata.json")))
    path = folder.file("package", metadata["variants"]["int8"]["mediapipe"]["file"])
    assert path.endswith("model_int8_rgb.tflite")  # The images are grayscale.
    class_names = metadata["labels"]
    assert class_names == ["bag", "sneaker", "trouser"]

    # The model card of the config, embedded in every file.
    for file_name in ("model_int8.tflite", "model_int8_rgb.tflite"):
        description, files = read_metadata(folder.file("package", file_name))
        card = {key: description[key] for key in ("name", "description", "version")}
        card |= {key: description[key] for key in ("author", "license")}
        assert card == {
            "name": "bags-and-shoes",
            **{k: v for k, v in MODEL_CARD.items() if k != "model_name"},
        }
        assert files["labels.txt"].decode().split() == class_names

    # The run's test images, as plain uint8 RGB images.
    test = load_run_data(config.data, config.run.seed).test
    gray = np.stack([image.numpy() for image, _ in test])
    images = np.repeat(gray, 3, axis=-1).astype(np.uint8)
    assert len(images) >= 5
    mediapipe_check(path, images, class_names)
