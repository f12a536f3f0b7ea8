"""Tests of kdkeras.export.calibration: the examples int8 calibrates on."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdkeras.export import calibration


def _model():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(3)(inputs))


def test_each_call_yields_the_examples_again_as_batches_of_one():
    data = np.arange(40, dtype="float64").reshape(10, 4)
    dataset = calibration.representative_dataset(data, _model(), 6, "data")
    assert dataset.num_examples == 6
    for _ in range(2):  # The converter may calibrate more than once.
        batches = [batch for (batch,) in dataset()]
        assert len(batches) == 6 and batches[0].shape == (1, 4)
        assert batches[0].dtype == np.float32
        np.testing.assert_array_equal(np.concatenate(batches), data[:6])


def test_a_dataset_of_pairs_is_unbatched():
    data = np.ones((10, 4), "float32")
    pairs = tf.data.Dataset.from_tensor_slices((data, np.zeros(10))).batch(4)
    dataset = calibration.representative_dataset(pairs, _model(), 200, "data")
    assert dataset.num_examples == 10


def test_verbose_1_shows_a_progress_bar_of_each_pass(capsys):
    data = np.zeros((5, 4), "float32")
    list(calibration.representative_dataset(data, _model(), 200, "data")())
    assert capsys.readouterr().out == ""
    list(calibration.representative_dataset(data, _model(), 200, "data", 1)())
    assert "5/5" in capsys.readouterr().out


def test_refuses_non_finite_examples():
    data = np.zeros((5, 4), "float32")
    data[2, 1] = np.nan
    with pytest.raises(ValueError, match="`data` must be finite"):
        calibration.representative_dataset(data, _model(), 200, "data")
