"""Fixtures shared by the tests of device packages and their variants."""

import keras
import numpy as np
import pytest

import kdkeras


@pytest.fixture(scope="module")
def pixels():
    """100 Fashion-MNIST training images, uint8 with a channel axis."""
    (x_train, _), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    return x_train[:100, ..., None]


_TINY_WEIGHTS = []


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = kdkeras.models.build_cnn(filters=(4,), dense_units=None, name="student")
    if _TINY_WEIGHTS:
        model.set_weights(_TINY_WEIGHTS)
    return model


def _train_tiny_model():
    """Trains the tiny CNN once (2,000 images, 4 epochs, about 2 s): its
    predictions differ from image to image, so a file that agrees with it
    on `pixels` computes what it computes, not one constant class."""
    (x_train, y_train), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    model = _tiny_model()
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x_train[:2000, ..., None], y_train[:2000], epochs=4, verbose=0)
    predicted = model.predict(x_train[:100, ..., None], verbose=0).argmax(-1)
    counts = np.bincount(predicted, minlength=10)
    assert (counts >= 3).sum() >= 5, counts  # 5 classes, 3 images or more each
    _TINY_WEIGHTS[:] = model.get_weights()


@pytest.fixture(scope="session")
def tiny_model():
    """A factory of one-convolution Fashion-MNIST CNNs, alike: briefly
    trained, at least 5 classes predicted on `pixels`."""
    if not _TINY_WEIGHTS:
        _train_tiny_model()
    return _tiny_model


class Sine(keras.layers.Layer):
    def call(self, inputs):
        return keras.ops.sin(inputs)


@pytest.fixture
def siren():
    """A model of 16 inputs and 3 outputs with a SIN op, which the int8
    converter leaves in float (its layer is named "sine")."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16,))
    hidden = Sine(name="sine")(keras.layers.Dense(8)(inputs))
    return keras.Model(inputs, keras.layers.Dense(3)(hidden), name="siren")
