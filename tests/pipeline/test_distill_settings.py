"""`distill.alpha: auto` and `distill.temperature: auto` in `kdkeras run`: the
config accepts them, the distill stage chooses them by a short sweep within
`distill.auto_budget`, records the choice once and a resumed run reuses it."""

import dataclasses
import json
import logging
import math
import os

import keras
import numpy as np
import pytest

from kdkeras.config import ConfigError, load_config, validate_config
from kdkeras.config.loading import write_config
from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.distillation import tuning
from kdkeras.models import build_cnn
from kdkeras.pipeline import distill_arguments, distill_settings, start_run
from kdkeras.pipeline.context import RunContext
from kdkeras.pipeline.run_data import load_run_data
from kdkeras.pipeline.run_folder import RunFolder
from kdkeras.pipeline.runner import run_stages


@pytest.fixture(scope="module")
def fashion_npz(tmp_path_factory):
    """A data `.npz` of 400 training and 100 test Fashion-MNIST images."""
    path = tmp_path_factory.mktemp("fashion") / "fashion.npz"
    (x, y), (x_test, y_test) = load_embedded_fashion_mnist()
    np.savez(
        path,
        x_train=x[:400, ..., None],
        y_train=y[:400],
        x_test=x_test[:100, ..., None],
        y_test=y_test[:100],
    )
    return str(path)


def _teacher(directory, epochs, x=None, y=None):
    keras.utils.set_random_seed(0)
    teacher = build_cnn(filters=(8, 16), dense_units=32, pooling="flatten")
    if epochs:
        teacher.compile(
            keras.optimizers.Adam(3e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        teacher.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    path = directory / f"teacher_{epochs}.keras"
    teacher.save(path)
    return str(path)


@pytest.fixture(scope="module")
def untrained_teacher(tmp_path_factory):
    """A `.keras` CNN teacher of random weights, for what needs no sweep."""
    return _teacher(tmp_path_factory.mktemp("teacher"), epochs=0)


@pytest.fixture(scope="module")
def trained_teacher(fashion_npz, tmp_path_factory):
    """A `.keras` CNN teacher trained on the 400 images for 21 epochs,
    confident enough on them that the rule's temperature is above 1."""
    (x, y), _ = load_embedded_fashion_mnist()
    directory = tmp_path_factory.mktemp("teacher")
    return _teacher(directory, 21, x[:400, ..., None], y[:400])


def _config(data_path, teacher_path, output_dir, **distill):
    return validate_config(
        {
            "run": {"name": "auto", "output_dir": str(output_dir)},
            "data": {"source": "npz", "path": data_path, "validation_split": 0.25},
            "teacher": {"path": teacher_path},
            "student": {"filters": [4], "dense_units": None, "pooling": "flatten"},
            "scratch": {"enabled": False},
            "distill": {"epochs": 2, "batch_size": 32, **distill},
            "export": {"enabled": False},
            "report": {"enabled": False},
        }
    )


def _context(config, tmp_path):
    folder = RunFolder.create(config, output_dir=tmp_path / "runs")
    data = load_run_data(config.data, config.run.seed)
    context = RunContext(config, folder, data, logging.getLogger("kdkeras.run"))
    context.models["teacher"] = keras.saving.load_model(config.teacher.path)
    return context


def test_auto_round_trips_through_config_yaml(fashion_npz, untrained_teacher, tmp_path):
    config = _config(
        fashion_npz,
        untrained_teacher,
        tmp_path,
        alpha="auto",
        temperature="auto",
        auto_budget=2.0,
    )
    assert config.distill.auto_keys == ("alpha", "temperature")
    path = tmp_path / "config.yaml"
    write_config(config, path)
    assert "alpha: auto" in path.read_text() and "auto_budget: 2.0" in path.read_text()
    loaded = load_config(path).distill
    assert (loaded.alpha, loaded.temperature, loaded.auto_budget) == (
        "auto",
        "auto",
        2.0,
    )
    with pytest.raises(ValueError, match="distill.alpha is 'auto'"):
        distill_arguments.compile_arguments(loaded, steps_per_epoch=10)
    with pytest.raises(ValueError, match="distill.alpha is 'auto'"):
        distill_arguments.optimize_arguments(loaded)
    chosen = distill_arguments.with_chosen_settings(
        _config(fashion_npz, untrained_teacher, tmp_path, temperature="auto").distill,
        0.5,
        1.5,
    )
    assert (chosen.alpha, chosen.temperature) == (0.1, 1.5)
    assert distill_arguments.optimize_arguments(chosen) == {
        "alpha": 0.1,
        "temperature": 1.5,
    }


@pytest.mark.parametrize(
    "distill, message",
    [
        ({"auto_budget": 1.0}, "distill.auto_budget: Input should be greater than 1"),
        (
            {"temperature": "warm"},
            "distill.temperature: expected a number > 0, null, a schedule or 'auto' "
            r"\(received: 'warm'\)",
        ),
        ({"alpha": "AUTO"}, "distill.alpha: expected a number in"),
        (
            {
                "alpha": "auto",
                "temperature": {"schedule": "linear", "start": 4, "end": 1},
            },
            "distill.alpha: expected a number or a schedule when distill.temperature "
            "is a schedule",
        ),
        (
            {"temperature": "auto", "loss": "logit_mse"},
            "distill.temperature: expected null with loss 'logit_mse'",
        ),
        (
            {
                "temperature": "auto",
                "mode": "online",
                "features": [
                    {"kind": "hint", "teacher_layer": "a", "student_layer": "b"}
                ],
            },
            "distill.temperature: expected a number or a schedule with "
            "distill.features",
        ),
    ],
)
def test_bad_values_are_refused_with_the_key_named(
    fashion_npz, untrained_teacher, tmp_path, distill, message
):
    with pytest.raises(ConfigError, match=message):
        _config(fashion_npz, untrained_teacher, tmp_path, **distill)


def test_auto_is_refused_with_augmentation_or_without_validation(
    fashion_npz, untrained_teacher, tmp_path
):
    config = _config(fashion_npz, untrained_teacher, tmp_path, alpha="auto")
    data = load_run_data(config.data, config.run.seed)
    augmented = config.model_copy(update={"augmentation": {"shift": 2}})
    with pytest.raises(ConfigError, match="distill.alpha: expected a number or a"):
        distill_settings.check_auto_settings(augmented, data)
    with pytest.raises(ConfigError, match=r"data.validation_split > 0"):
        distill_settings.check_auto_settings(
            config, dataclasses.replace(data, validation=None)
        )
    distill_settings.check_auto_settings(config, data)


def test_auto_without_a_validation_split_is_refused_before_the_run_folder(
    fashion_npz, untrained_teacher, tmp_path
):
    config = validate_config(
        {
            **_config(fashion_npz, untrained_teacher, tmp_path / "runs").model_dump(),
            "data": {"source": "npz", "path": fashion_npz, "validation_split": 0.0},
            "distill": {"epochs": 2, "temperature": "auto"},
        }
    )
    with pytest.raises(ConfigError, match="distill.temperature: expected a number"):
        start_run(config)
    assert not os.path.exists(tmp_path / "runs")


@pytest.mark.slow
def test_the_sweep_chooses_the_best_candidate_within_the_budget_and_a_resume_reuses_it(
    fashion_npz, trained_teacher, tmp_path, monkeypatch
):
    config = _config(
        fashion_npz, trained_teacher, tmp_path, alpha="auto", temperature="auto"
    )
    folder = start_run(config)
    record = folder.artifacts("distill_settings")
    candidates = record["candidates"]
    # A ready teacher learned elsewhere: the rule's alpha is 0.1.
    assert record["rule"]["alpha"] == 0.1
    assert [(row["alpha"], row["temperature"]) for row in candidates] == [
        (c["alpha"], c["temperature"])
        for c in tuning.candidate_settings(record["rule"])
    ]
    accuracies = [row["validation_accuracy"] for row in candidates]
    best = candidates[accuracies.index(max(accuracies))]
    assert (record["alpha"], record["temperature"]) == (
        best["alpha"],
        best["temperature"],
    )
    # 300 training images in batches of 32: 10 per epoch. The budget, 1.5 ×
    # 2 epochs, leaves 1 epoch for the candidates: 10 batches shared.
    assert record["budget_epochs"] == 3.0
    steps = math.floor(10 / len(candidates))
    assert {row["steps"] for row in candidates} == {steps}
    assert record["sweep_epochs"] == pytest.approx(len(candidates) * steps / 10)
    assert record["sweep_epochs"] + 2 <= record["budget_epochs"]
    [decision] = [f for f in folder.findings("decision") if f["stage"] == "distill"]
    assert decision["numbers"]["alpha"] == record["alpha"]
    assert decision["numbers"]["validation_accuracy"] == max(accuracies)
    assert f"alpha {record['alpha']:g}, temperature" in decision["message"]
    assert "alpha: auto" in open(folder.file("config.yaml")).read()

    # The distill stage killed after the sweep: the resumed run trains again
    # with the recorded choice, and sweeps nothing.
    state = json.loads(open(folder.file("state.json")).read())
    del state["stages"]["distill"]
    with open(folder.file("state.json"), "w") as file:
        json.dump(state, file)

    def no_sweep(*args, **kwargs):
        raise AssertionError("a resumed run must not sweep again")

    monkeypatch.setattr(tuning, "choose_distillation_settings", no_sweep)
    run_stages(folder, folder.load_config())
    assert folder.artifacts("distill_settings") == record
    [decision] = [f for f in folder.findings("decision") if f["stage"] == "distill"]
    assert decision["numbers"]["candidates"] == candidates
    assert "distill" in folder.finished_stages()


@pytest.mark.slow
def test_a_given_alpha_is_kept_and_a_recorded_choice_is_read_back(
    fashion_npz, trained_teacher, tmp_path, monkeypatch
):
    config = _config(
        fashion_npz, trained_teacher, tmp_path, alpha=0.3, temperature="auto"
    )
    context = _context(config, tmp_path)
    swept = []
    choose = tuning.choose_distillation_settings

    def counted(*args, **kwargs):
        swept.append(kwargs["candidates"])
        return choose(*args, **kwargs)

    monkeypatch.setattr(tuning, "choose_distillation_settings", counted)
    resolved = distill_settings.resolved_distill(context)
    record = context.folder.artifacts("distill_settings")
    assert resolved.alpha == 0.3 and resolved.temperature == record["temperature"]
    assert {row["alpha"] for row in record["candidates"]} == {0.3}
    assert len(swept) == 1 and all(c["alpha"] == 0.3 for c in swept[0])
    # Read back, as the optimize stage and a resumed run do: no second sweep.
    again = distill_settings.resolved_distill(context)
    assert (again.alpha, again.temperature) == (0.3, record["temperature"])
    assert len(swept) == 1


def test_a_budget_without_room_for_one_batch_per_candidate_is_refused(
    fashion_npz, untrained_teacher, tmp_path
):
    config = _config(
        fashion_npz,
        untrained_teacher,
        tmp_path,
        alpha="auto",
        epochs=1,
        auto_budget=1.05,
    )
    context = _context(config, tmp_path)
    with pytest.raises(ConfigError, match=r"distill.auto_budget: expected room for"):
        distill_settings.resolved_distill(context)
    assert not context.folder.is_finished("distill_settings")


@pytest.mark.slow
def test_an_image_folder_sweeps_on_its_logit_cache(
    tiny_run_config, tiny_teacher_path, tmp_path
):
    config = tiny_run_config(
        tiny_teacher_path,
        tmp_path / "runs",
        distill={"alpha": "auto", "epochs": 2},
        scratch={"enabled": False},
        export={"enabled": False},
        report={"enabled": False},
    )
    folder = start_run(config)
    record = folder.artifacts("distill_settings")
    assert os.path.isfile(folder.file("models", "teacher_logits.npz"))
    assert {row["temperature"] for row in record["candidates"]} == {2.0}
    accuracies = [row["validation_accuracy"] for row in record["candidates"]]
    assert (
        record["alpha"]
        == record["candidates"][accuracies.index(max(accuracies))]["alpha"]
    )
    assert "distill" in folder.finished_stages()
