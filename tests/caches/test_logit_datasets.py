"""The teacher-logit cache reads a tf.data pipeline batch by batch: one row
per example (not per batch), fingerprinted by its inputs in order."""

import keras
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from kdkeras import caches
from kdkeras.models import build_cnn


@pytest.fixture(scope="module")
def folder_teacher():
    keras.utils.set_random_seed(0)
    return build_cnn(num_classes=3, filters=(4,), dense_units=None)


def test_cache_has_one_row_per_image(
    folder_teacher, image_folder, tmp_path, folder_dataset
):
    dataset = folder_dataset(image_folder)  # 42 images in 6 batches
    path = tmp_path / "teacher.npz"
    logits = caches.cache_teacher_logits(folder_teacher, dataset, path)
    images = np.concatenate([x for x, _ in dataset.as_numpy_iterator()])
    assert logits.shape == (42, 3)
    np.testing.assert_allclose(
        logits, folder_teacher.predict(images, verbose=0), rtol=1e-5, atol=1e-5
    )
    loaded = caches.load_teacher_logits(path, dataset, folder_teacher)
    np.testing.assert_array_equal(loaded, logits)


def test_dataset_fingerprint_follows_the_inputs(image_folder, folder_dataset):
    dataset = folder_dataset(image_folder)
    fingerprint = caches.fingerprint_data(dataset)
    assert caches.fingerprint_data(folder_dataset(image_folder)) == fingerprint
    # The same images without labels are the same inputs.
    assert caches.fingerprint_data(dataset.map(lambda x, y: x)) == fingerprint
    assert caches.fingerprint_data(dataset.take(2)) != fingerprint


def test_cache_for_another_dataset_is_stale(
    folder_teacher, image_folder, tmp_path, folder_dataset
):
    path = tmp_path / "teacher.npz"
    caches.cache_teacher_logits(folder_teacher, folder_dataset(image_folder), path)
    with pytest.raises(caches.StaleCacheError, match="other data"):
        caches.load_teacher_logits(
            path, folder_dataset(image_folder).take(3), folder_teacher
        )


def test_save_counts_examples_not_batches(image_folder, tmp_path, folder_dataset):
    dataset = folder_dataset(image_folder)
    with pytest.raises(ValueError, match=r"one row per sample of `x` \(42\)"):
        caches.save_teacher_logits(
            tmp_path / "t.npz", np.zeros((6, 3)), dataset, "batches"
        )
    caches.save_teacher_logits(
        tmp_path / "t.npz", np.zeros((42, 3)), dataset, "expert-labels"
    )


def test_scikit_learn_teacher_on_a_dataset(image_folder, folder_dataset):
    import tensorflow as tf  # a tf.data map runs TensorFlow ops on every backend

    dataset = folder_dataset(image_folder).map(
        lambda x, y: (tf.reshape(x, (-1, 28 * 28)) / 255.0, y)
    )
    x, y = (
        np.concatenate(part) for part in zip(*dataset.as_numpy_iterator(), strict=True)
    )
    teacher = LogisticRegression(max_iter=200).fit(x, y)
    logits = caches.compute_teacher_logits(teacher, dataset)
    assert logits.shape == (42, 3)
    np.testing.assert_array_equal(logits.argmax(-1), teacher.predict(x))
