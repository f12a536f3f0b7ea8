"""The teacher stage: a preset fine-tuned in two recorded, resumable stages
on its own view of the images, and saved with that view.

`keras.applications` backbones take minutes to trace on a loaded 2-core
machine, so the stage is run here with a small classifier of the same shape
(a nested model named "backbone", pooling, logits) in place of
`build_teacher`'s; `tests/models` tests the real presets, and
`examples/configs/demo.yaml` runs MobileNetV2 through this stage.
"""

import csv
import logging

import keras
import pytest

from kdkeras.config import validate_config
from kdkeras.pipeline import teacher_stage
from kdkeras.pipeline.context import RunContext
from kdkeras.pipeline.run_data import load_run_data
from kdkeras.pipeline.run_folder import RunFolder


class SimulatedCrash(Exception):
    """Stands for a run killed during the second fine-tuning stage."""


class CrashInSecondStage(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.stages_started = 0

    def on_train_begin(self, logs=None):
        self.stages_started += 1

    def on_epoch_end(self, epoch, logs=None):
        if self.stages_started == 2:
            raise SimulatedCrash()


@pytest.fixture
def built_teachers(monkeypatch):
    """Records `build_teacher`'s arguments and builds a small teacher."""
    calls = []

    def build_small_teacher(preset_name, num_classes, input_shape, **kwargs):
        calls.append((preset_name, num_classes, input_shape, kwargs))
        backbone = keras.Sequential(
            [
                keras.Input(input_shape),
                keras.layers.Conv2D(4, 3),
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
            ],
            name="backbone",
        )
        inputs = keras.Input(input_shape)
        features = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
        logits = keras.layers.Dense(num_classes)(features)
        return keras.Model(inputs, logits, name=kwargs["name"])

    monkeypatch.setattr(teacher_stage, "build_teacher", build_small_teacher)
    return calls


def history_epochs(folder, stage):
    with open(folder.history_path(stage), newline="") as file:
        return [int(row["epoch"]) for row in csv.DictReader(file)]


def test_teacher_is_fine_tuned_in_two_stages_and_resumes(
    image_folder, tmp_path, built_teachers
):
    config = validate_config(
        {
            "run": {"output_dir": str(tmp_path / "runs")},
            "data": {
                "source": "image_folder",
                "path": str(image_folder),
                "image_size": [28, 28],
                "color_mode": "grayscale",
            },
            "teacher": {
                "preset": "mobilenet_v2",
                "weights": "none",
                "width": 0.35,
                "image_size": [32, 32],
                "head_epochs": 1,
                "fine_tune_epochs": 2,
                "batch_size": 16,
            },
        }
    )
    folder = RunFolder.create(config)
    data = load_run_data(config.data, config.run.seed)
    log = logging.getLogger("test")

    crash = CrashInSecondStage()
    with pytest.raises(SimulatedCrash):
        teacher_stage.run_teacher(RunContext(config, folder, data, log, (crash,)))
    assert folder.finished_stages() == ["teacher_head"]
    artifacts = teacher_stage.run_teacher(RunContext(config, folder, data, log))

    # The preset, its weights and width, and the view's size reach the builder.
    assert [call[:3] for call in built_teachers] == [
        ("mobilenet_v2", 3, (32, 32, 3))
    ] * 2
    assert built_teachers[0][3]["weights"] is None
    assert built_teachers[0][3]["width"] == 0.35
    # The head stage ran once; the second stage went on from its backup.
    assert history_epochs(folder, "teacher_head") == [0]
    assert history_epochs(folder, "teacher_fine_tune") == [0, 1]
    assert artifacts == {"model": folder.model_path("teacher")}
    teacher = keras.saving.load_model(folder.model_path("teacher"))
    # Saved with its view: it takes the data's raw 28×28 grayscale images.
    assert teacher.input_shape == (None, 28, 28, 1)
    assert teacher.output_shape == (None, 3)
    view = teacher.get_layer("teacher_view")
    assert (view.size, view.channels, view.preprocessing) == (
        (32, 32),
        3,
        "mobilenet_v2",
    )
