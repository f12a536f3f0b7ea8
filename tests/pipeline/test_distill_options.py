"""The distill stage's config reaches the Python API: a registered loss with
its arguments, schedules of alpha and the temperature, augmented views shared
by scratch and distill (offline: the teacher's logits of every view cached),
and several teachers averaged."""

import csv
import json
import logging
import os

import keras
import numpy as np
import pytest
import yaml

import kdkeras
from kdkeras.caches import augmented_file, sharded_augmented
from kdkeras.config import ConfigError, validate_config
from kdkeras.distillation import schedules
from kdkeras.models import build_cnn
from kdkeras.pipeline import (
    distill_arguments,
    folder_logits,
    start_run,
    training_augmentation,
)
from kdkeras.pipeline.context import RunContext
from kdkeras.pipeline.run_data import load_run_data
from kdkeras.pipeline.run_folder import RunFolder


@pytest.fixture
def digits_npz(digits, tmp_path):
    """The 8×8 digits as a data `.npz` (200 training, 60 test images)."""
    x, y = digits
    path = tmp_path / "digits.npz"
    np.savez(
        path, x_train=x[:200], y_train=y[:200], x_test=x[200:260], y_test=y[200:260]
    )
    return str(path)


def _teacher_path(directory, seed):
    keras.utils.set_random_seed(seed)
    path = directory / f"teacher_{seed}.keras"
    build_cnn(
        input_shape=(8, 8, 1), filters=(8,), dense_units=None, rescale=False
    ).save(path)
    return str(path)


def _config(digits_npz, output_dir, **sections):
    data = {
        "run": {"name": "digits", "output_dir": str(output_dir)},
        "data": {"source": "npz", "path": digits_npz, "validation_split": 0.1},
        "student": {"filters": [4], "pooling": "avg"},
        "scratch": {"epochs": 2, "batch_size": 32},
        "distill": {"epochs": 2, "batch_size": 32, "allow_weak_teacher": True},
        "export": {"enabled": False},
        "report": {"latency_runs": 0},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return validate_config(data)


def test_compile_arguments_build_the_registered_loss_and_the_schedules(
    digits_npz, tmp_path
):
    config = _config(
        digits_npz,
        tmp_path,
        distill={
            "epochs": 4,
            "loss": {"name": "dkd", "non_target_weight": 2.0},
            "alpha": {"schedule": "linear", "start": 1.0, "end": 0.2, "epochs": 2},
            "temperature": {"schedule": "cosine", "start": 0.3, "end": 4.0},
        },
    )
    arguments = distill_arguments.compile_arguments(config.distill, steps_per_epoch=5)
    loss = arguments["distillation_loss_fn"]
    assert isinstance(loss, kdkeras.losses.DKDLoss)
    assert (loss.non_target_weight, loss.target_weight) == (2.0, 1.0)
    assert arguments["alpha"].get_config() == {"start": 1.0, "end": 0.2, "steps": 10}
    temperature = arguments["temperature"]
    assert isinstance(temperature, schedules.Cosine) and temperature.steps == 20
    # The schedule goes to compile alone: the loss keeps its own default.
    assert loss.temperature == 4.0
    student = build_cnn(input_shape=(8, 8, 1), filters=(4,), rescale=False)
    distiller = kdkeras.Distiller(teacher=None, student=student)
    distiller.compile(optimizer="adam", **arguments)
    assert distiller.temperature is temperature
    assert distill_arguments.optimize_arguments(config.distill) == {
        "alpha": 0.2,
        "temperature": 4.0,
    }


def _feature_run_config(digits_npz, tmp_path, **distill):
    """A run of the distill stage alone, from a ready teacher."""
    return _config(
        digits_npz,
        tmp_path / "runs",
        teacher={"path": _teacher_path(tmp_path, 0)},
        scratch={"enabled": False},
        distill=distill,
    )


@pytest.mark.slow
def test_feature_distillation_by_layer_names(digits_npz, tmp_path):
    hint = {"kind": "hint", "teacher_layer": "block1_relu"}
    config = _feature_run_config(
        digits_npz,
        tmp_path,
        epochs=1,
        features=[{**hint, "student_layer": "block1_relux"}],
    )
    with pytest.raises(ConfigError) as info:
        start_run(config)
    assert info.value.problems[0].startswith(
        "distill.features[0].student_layer: expected a layer of the student, one "
        "of ['images', 'rescaling', 'block1_conv'"
    )
    assert not (tmp_path / "runs").exists()
    config.distill.features = [{**hint, "student_layer": "block1_relu"}]
    folder = start_run(config)
    with open(folder.history_path("distill"), newline="") as file:
        [row] = list(csv.DictReader(file))
    assert float(row["feature_loss"]) > 0
    written = yaml.safe_load(open(folder.file("config.yaml")))
    assert written["distill"]["features"][0]["student_layer"] == "block1_relu"


def test_a_loss_without_temperature_compiles_without_one(digits_npz, tmp_path):
    config = _config(digits_npz, tmp_path, distill={"loss": "logit_mse"})
    assert config.distill.temperature is None
    arguments = distill_arguments.compile_arguments(config.distill, steps_per_epoch=5)
    assert isinstance(arguments["distillation_loss_fn"], kdkeras.losses.LogitMSE)
    assert arguments["temperature"] is None
    assert distill_arguments.optimize_arguments(config.distill)["temperature"] == 3.0


def test_scratch_and_distill_see_the_same_shifted_views(digits_npz, tmp_path):
    config = _config(
        digits_npz, tmp_path, augmentation={"shift": 2, "horizontal_flip": True}
    )
    x, y = np.load(digits_npz)["x_train"][:50], np.load(digits_npz)["y_train"][:50]
    scratch, steps = training_augmentation.augmented_array_batches(
        config, (x, y), 16, epochs=1
    )
    distill, _ = training_augmentation.augmented_array_batches(
        config, (x, y), 16, epochs=3
    )
    assert steps == 4
    scratch_views, scratch_labels = next(iter(scratch))
    distill_views, distill_labels = next(iter(distill))
    np.testing.assert_array_equal(scratch_views, distill_views)
    np.testing.assert_array_equal(scratch_labels, distill_labels)
    # Each view is one of the images, shifted by at most 2 pixels (zero
    # fill) and maybe flipped; some are not the image itself.
    candidates = {
        (dr, dc, flip): _shifted(x[..., ::-1, :] if flip else x, dr, dc)
        for dr in range(-2, 3)
        for dc in range(-2, 3)
        for flip in (False, True)
    }
    shifts = []
    for view in np.asarray(scratch_views):
        shifts.append(
            next(
                key
                for key, shifted in candidates.items()
                if np.any(np.all(np.isclose(shifted, view), axis=(1, 2, 3)))
            )
        )
    assert any(shift != (0, 0, False) for shift in shifts)


def _view_cache_context(digits_npz, tmp_path, shift=1):
    config = _config(
        digits_npz, tmp_path, augmentation={"shift": shift, "horizontal_flip": False}
    )
    return RunContext(
        config=config,
        folder=RunFolder(str(tmp_path / "run")),
        data=load_run_data(config.data, config.run.seed),
        log=logging.getLogger("kdkeras.test_view_cache"),
    )


def test_offline_views_are_cached_as_shards_and_reused_when_complete(
    digits_npz, tmp_path, caplog
):
    context = _view_cache_context(digits_npz, tmp_path)
    teacher = keras.saving.load_model(_teacher_path(tmp_path, 0))
    models = context.folder.directory("models")
    manifest = os.path.join(models, "teacher_augmented_logits", "manifest.json")
    caplog.set_level(logging.INFO, logger="kdkeras.test_view_cache")

    dataset, steps = training_augmentation.cached_augmented_array_batches(
        context, teacher, 32, epochs=2
    )
    assert steps == 6  # 180 training images
    views_batch, (labels, teacher_logits) = next(iter(dataset))
    np.testing.assert_allclose(
        teacher.predict(views_batch, verbose=0), teacher_logits, atol=1e-5
    )
    assert sorted(os.listdir(models)) == ["teacher_augmented_logits"]
    written = os.stat(manifest).st_mtime_ns
    assert caplog.text.count("computing the teacher's outputs") == 1

    # --resume: the finished cache is read, not recomputed.
    training_augmentation.cached_augmented_array_batches(context, teacher, 32, epochs=2)
    assert os.stat(manifest).st_mtime_ns == written
    assert caplog.text.count("computing the teacher's outputs") == 1

    # Another number of epochs, or a damaged shard: recomputed.
    training_augmentation.cached_augmented_array_batches(context, teacher, 32, epochs=3)
    assert "holds other augmentations or epochs: recomputing" in caplog.text
    shard = os.path.join(models, "teacher_augmented_logits", "shard-00000.tfrecord")
    with open(shard, "r+b") as file:
        file.truncate(10)
    training_augmentation.cached_augmented_array_batches(context, teacher, 32, epochs=3)
    assert "teacher_augmented_logits is unreadable" in caplog.text
    assert caplog.text.count("computing the teacher's outputs") == 3
    assert os.path.getsize(shard) > 10


def test_a_killed_view_cache_write_is_not_reused(digits_npz, tmp_path, caplog):
    context = _view_cache_context(digits_npz, tmp_path)
    teacher = keras.saving.load_model(_teacher_path(tmp_path, 0))
    models = context.folder.directory("models")
    caplog.set_level(logging.INFO, logger="kdkeras.test_view_cache")

    class Killed(Exception):
        pass

    calls = []
    predict = teacher.predict_on_batch

    def predict_then_die(images):
        calls.append(len(images))
        if len(calls) > 1:
            raise Killed
        return predict(images)

    teacher.predict_on_batch = predict_then_die
    with pytest.raises(Killed):  # in the second epoch's views
        training_augmentation.cached_augmented_array_batches(
            context, teacher, 32, epochs=2
        )
    assert not os.path.exists(os.path.join(models, "teacher_augmented_logits"))
    # What `kill -9` leaves: the temporary directory of a dead process.
    leftover = os.path.join(models, ".partial-999999999-x-teacher_augmented_logits")
    os.makedirs(leftover)
    open(os.path.join(leftover, "shard-00000.tfrecord"), "wb").close()

    teacher.predict_on_batch = predict
    training_augmentation.cached_augmented_array_batches(context, teacher, 32, epochs=2)
    assert caplog.text.count("computing the teacher's outputs") == 2
    assert sorted(os.listdir(models)) == ["teacher_augmented_logits"]


def _shifted(images, rows, cols):
    """`images` moved down by `rows` and right by `cols` pixels, zero fill."""
    shifted = np.roll(images, (rows, cols), axis=(1, 2))
    if rows > 0:
        shifted[:, :rows] = 0
    elif rows < 0:
        shifted[:, rows:] = 0
    if cols > 0:
        shifted[:, :, :cols] = 0
    elif cols < 0:
        shifted[:, :, cols:] = 0
    return shifted


@pytest.mark.slow
def test_offline_run_with_views_dkd_schedules_and_two_teachers(digits_npz, tmp_path):
    teachers = [_teacher_path(tmp_path, seed) for seed in (0, 1)]
    config = _config(
        digits_npz,
        tmp_path / "runs",
        teacher={"paths": teachers, "ensemble_weights": [2, 1]},
        distill={
            "mode": "offline",
            "loss": {"name": "dkd", "non_target_weight": 4},
            "temperature": {"schedule": "linear", "start": 4.0, "end": 2.0},
        },
        augmentation={"shift": 1, "horizontal_flip": False},
    )
    folder = start_run(config)

    assert folder.finished_stages() == ["teacher", "scratch", "distill", "report"]
    teacher = keras.saving.load_model(folder.model_path("teacher"))
    assert isinstance(teacher, kdkeras.distillation.TeacherEnsemble)
    cache = augmented_file.load_augmented_logits(
        folder.file("models", "teacher_augmented_logits"),
        load_run_data(config.data, config.run.seed).train[0],
        teacher,
    )
    assert isinstance(cache, sharded_augmented.ShardedAugmentedCache)
    assert (cache.epochs, cache.num_samples, cache.num_classes) == (2, 180, 10)
    assert not os.path.exists(folder.file("models", "teacher_views.npz"))
    with open(folder.history_path("distill"), newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2
    # The logged temperature is the epoch's mean: going down from 4 to 2.
    temperatures = [float(row["temperature"]) for row in rows]
    assert 4.0 > temperatures[0] > temperatures[1] > 2.0
    written = yaml.safe_load(open(folder.file("config.yaml")))
    assert written["distill"]["loss"] == {"name": "dkd", "non_target_weight": 4}
    assert written["distill"]["temperature"]["schedule"] == "linear"
    assert written["augmentation"] == {"shift": 1, "horizontal_flip": False}
    assert written["teacher"]["ensemble_weights"] == [2.0, 1.0]
    report = json.load(open(folder.file("report", "report.json")))
    assert [row["name"] for row in report["rows"]] == [
        "teacher",
        "student (scratch)",
        "student (distilled)",
    ]


def _folder_config(tiny_run_config, teacher_path, output_dir, **distill):
    return tiny_run_config(
        teacher_path,
        output_dir,
        run={"name": "folder"},
        scratch={"enabled": False},
        distill={"epochs": 2, **distill},
        export={"enabled": False},
    )


def test_folder_images_in_a_fixed_order_stay_with_their_logits(
    image_folder, tiny_run_config, tiny_teacher_path, tmp_path
):
    config = _folder_config(tiny_run_config, tiny_teacher_path, tmp_path)
    data = load_run_data(config.data, config.run.seed)
    paths, labels = data.train_files
    assert len(paths) == data.train.cardinality() == 26
    # Decoded and resized as Keras reads the folder.
    keras_images = keras.utils.image_dataset_from_directory(
        image_folder,
        color_mode="grayscale",
        image_size=(28, 28),
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    keras_paths = keras_images.file_paths
    ordered = folder_logits.ordered_batches(
        (
            keras_paths,
            folder_logits.file_labels(
                keras_paths, image_folder, keras_images.class_names
            ),
        ),
        data.input_shape,
    )
    keras_x, keras_y = zip(*keras_images.as_numpy_iterator(), strict=True)
    x, y = (
        np.concatenate(part) for part in zip(*ordered.as_numpy_iterator(), strict=True)
    )
    np.testing.assert_array_equal(x, np.stack(keras_x))
    np.testing.assert_array_equal(y, np.array(keras_y))
    # Each training row's logits belong to its image, in every shuffled epoch.
    teacher = keras.saving.load_model(tiny_teacher_path)
    logits = teacher.predict(
        folder_logits.ordered_batches(data.train_files, (28, 28, 1)), verbose=0
    )
    batches = folder_logits.offline_batches(
        data.train_files, (28, 28, 1), logits, 8, seed=1
    )
    epochs = [list(batches.as_numpy_iterator()) for _ in range(2)]
    for epoch in epochs:
        for images, (batch_labels, batch_logits) in epoch:
            np.testing.assert_allclose(
                teacher.predict(images, verbose=0), batch_logits, atol=1e-5
            )
            assert set(batch_labels) <= {0, 1, 2}
    assert not np.array_equal(epochs[0][0][1][1], epochs[1][0][1][1])


@pytest.mark.slow
def test_offline_distillation_from_an_image_folder(
    tiny_run_config, tiny_teacher_path, tmp_path
):
    config = _folder_config(
        tiny_run_config, tiny_teacher_path, tmp_path / "runs", mode="offline"
    )
    folder = start_run(config)
    assert folder.finished_stages() == ["teacher", "distill", "report"]
    cache = np.load(folder.file("models", "teacher_logits.npz"))
    assert cache["teacher_logits"].shape == (26, 3)


@pytest.mark.slow
def test_feature_methods_train_offline_from_the_runs_cache(digits_npz, tmp_path):
    """`distill.mode: offline` with `distill.features`: the teacher's pooled
    features are stored once beside its logits in the run's cache, and CRD
    (with each example's index) and RKD train from them, with no teacher."""
    pair = {"teacher_layer": "pool", "student_layer": "pool"}
    config = _feature_run_config(
        digits_npz,
        tmp_path,
        epochs=2,
        mode="offline",
        features=[{"kind": "crd", **pair}, {"kind": "rkd", **pair}],
    )
    folder = start_run(config)
    with open(folder.history_path("distill"), newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2
    assert all(float(row["feature_loss"]) > 0 for row in rows)
    x_train = load_run_data(config.data, config.run.seed).train[0]
    cache = kdkeras.caches.open_cache(
        os.path.join(folder.directory("models"), "teacher_logits.npz"),
        x_train,
        allow_any_teacher=True,
    )
    assert cache.teacher_feature_shapes == {"pool": (8,)}
    teacher = keras.saving.load_model(config.teacher.path)
    pool = keras.Model(teacher.inputs, teacher.get_layer("pool").output)
    np.testing.assert_allclose(
        cache.teacher_features["pool"], pool.predict(x_train, verbose=0), atol=1e-5
    )
