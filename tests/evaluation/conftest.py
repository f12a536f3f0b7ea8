"""Fixtures shared by the tests of scoring and comparing models."""

import keras
import numpy as np
import pytest


def _identity_classifier(activation=None, name="identity"):
    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Dense(
        3, use_bias=False, activation=activation, name="scores"
    )(inputs)
    model = keras.Model(inputs, outputs, name=name)
    model.get_layer("scores").set_weights([np.eye(3, dtype="float32")])
    return model


@pytest.fixture(scope="session")
def identity_classifier():
    """A factory of 3-class linear models whose outputs are their inputs (9
    weights): `identity_classifier(activation=None, name="identity")`."""
    return _identity_classifier
