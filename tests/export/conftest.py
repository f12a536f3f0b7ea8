"""Fixtures shared by the tests of device packages and their variants."""

import keras
import pytest

import kdkeras


@pytest.fixture(scope="module")
def pixels():
    """100 Fashion-MNIST training images, uint8 with a channel axis."""
    (x_train, _), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    return x_train[:100, ..., None]


def _tiny_model():
    keras.utils.set_random_seed(0)
    return kdkeras.models.build_cnn(filters=(4,), dense_units=None, name="student")


@pytest.fixture(scope="session")
def tiny_model():
    """A factory of untrained one-convolution Fashion-MNIST CNNs, seeded alike."""
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
