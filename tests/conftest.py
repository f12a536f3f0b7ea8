"""Shared fixtures: the 8×8 digits of scikit-learn and tiny models."""

import keras
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """`(x, y)`: 1,797 real 8×8 digit images in [0, 1] with a channel axis."""
    data = load_digits()
    x = (data.images[..., None] / 16.0).astype("float32")
    return x, data.target.astype("int32")


def small_cnn(filters=8, batch_norm=True, activation=None, seed=0, name=None):
    """A tiny 8×8 classifier; `activation="softmax"` makes it output probabilities."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((8, 8, 1)), keras.layers.Conv2D(filters, 3, padding="same")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers += [
        keras.layers.ReLU(),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation=activation),
    ]
    return keras.Sequential(layers, name=name)


def dense_model(units=10, inputs=4, seed=0, activation=None, name=None):
    """A single Dense layer, for hand-computed steps."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((inputs,)), keras.layers.Dense(units, activation=activation)],
        name=name,
    )
