"""Augmentation of an image folder's batches: Keras' preprocessing layers in
the scratch stage's pipeline and as the online Distiller's `augmentation`.

(The views of images in memory are tested in `test_distill_options.py`.)
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdkeras.config import ConfigError
from kdkeras.pipeline import start_run, training_augmentation
from kdkeras.pipeline.run_data import load_run_data


@pytest.fixture
def folder_config(tiny_run_config, tiny_teacher_path, tmp_path):
    """`folder_config(**sections)`: a run config on the image folder, run
    into `tmp_path / "runs"` without the export stage; each keyword updates
    that section."""

    def make(**sections):
        return tiny_run_config(
            tiny_teacher_path,
            tmp_path / "runs",
            run={"name": "augmented"},
            export={"enabled": False},
            **sections,
        )

    return make


@pytest.fixture
def shifted_folder(folder_config):
    """`(config, data)`: the image folder, augmented by shifts of at most 2
    pixels (and horizontal flips), and its loaded data."""
    config = folder_config(augmentation={"shift": 2})
    return config, load_run_data(config.data, config.run.seed)


def test_the_layers_follow_the_config(shifted_folder, folder_config):
    config, data = shifted_folder
    layer = training_augmentation.batch_augmentation(config, data)
    translation, flip = layer.layers
    assert isinstance(translation, keras.layers.RandomTranslation)
    assert translation.height_factor == translation.width_factor == 2 / 28
    assert (translation.fill_mode, translation.interpolation) == ("constant", "nearest")
    assert isinstance(flip, keras.layers.RandomFlip) and flip.mode == "horizontal"
    unflipped = folder_config(augmentation={"shift": 1, "horizontal_flip": False})
    [translation] = training_augmentation.batch_augmentation(unflipped, data).layers
    assert translation.height_factor == 1 / 28
    none = folder_config(augmentation={"shift": 0, "horizontal_flip": False})
    assert training_augmentation.batch_augmentation(none, data) is None
    without = folder_config()
    assert training_augmentation.batch_augmentation(without, data) is None


def test_images_in_memory_take_the_view_plan_instead(shifted_folder):
    config, data = shifted_folder
    data.train = (np.zeros((4, 28, 28, 1)), np.zeros(4, "int32"))
    assert training_augmentation.batch_augmentation(config, data) is None


def test_each_augmented_image_is_its_image_shifted_and_maybe_flipped(shifted_folder):
    config, data = shifted_folder
    # One pass: the training split is reshuffled on every pass.
    [(images, labels)] = data.train.batch(26).as_numpy_iterator()
    batches = tf.data.Dataset.from_tensors((images, labels))
    layer = training_augmentation.batch_augmentation(config, data)
    [(views, view_labels)] = training_augmentation.augmented_batches(
        batches, layer
    ).as_numpy_iterator()
    np.testing.assert_array_equal(labels, view_labels)
    moves = [_move(image, view) for image, view in zip(images, views, strict=True)]
    assert None not in moves
    assert len(set(moves)) > 1


def _move(image, view, max_shift=2):
    """`(rows, cols, flipped)` that turn `image` into `view`, or `None`."""
    height, width = image.shape[:2]
    for flipped in (False, True):
        source = image[:, ::-1] if flipped else image
        for rows in range(-max_shift, max_shift + 1):
            for cols in range(-max_shift, max_shift + 1):
                shifted = np.zeros_like(source)
                shifted[
                    max(rows, 0) : height + min(rows, 0),
                    max(cols, 0) : width + min(cols, 0),
                ] = source[
                    max(-rows, 0) : height + min(-rows, 0),
                    max(-cols, 0) : width + min(-cols, 0),
                ]
                if np.allclose(shifted, view):
                    return rows, cols, flipped
    return None


def test_offline_distillation_of_an_augmented_folder_is_refused(folder_config):
    with pytest.raises(ConfigError) as error:
        folder_config(augmentation={"shift": 2}, distill={"mode": "offline"})
    [problem] = error.value.problems
    assert problem.startswith(
        "distill.mode: expected 'online' with augmentation of an image folder"
    )
    assert "needs the training images in memory" in problem


@pytest.mark.slow
def test_both_students_of_a_folder_train_on_augmented_batches(
    folder_config, monkeypatch
):
    config = folder_config(augmentation={"shift": 2})
    layers = []
    batch_augmentation = training_augmentation.batch_augmentation

    def recorded(config, data):
        layers.append(batch_augmentation(config, data))
        return layers[-1]

    monkeypatch.setattr(training_augmentation, "batch_augmentation", recorded)
    folder = start_run(config)
    assert folder.finished_stages() == ["teacher", "scratch", "distill", "report"]
    # One layer for the scratch stage's pipeline, one for the Distiller.
    assert len(layers) == 2
    assert all(isinstance(layer, keras.Sequential) for layer in layers)
