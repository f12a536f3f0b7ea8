"""Tests of `kdkeras.models.walk_layers`."""

import keras

from kdkeras.models import walk_layers


def test_walks_nested_models_depth_first_once_per_layer():
    shared = keras.layers.Dense(4, name="shared")
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4, name="inner_dense"), shared],
        name="inner",
    )
    inputs = keras.Input((4,), name="x")
    hidden = inner(inputs)
    outputs = keras.layers.Dense(2, name="head")(shared(hidden))
    model = keras.Model(inputs, outputs, name="outer")

    names = [layer.name for layer in walk_layers(model)]

    assert names == ["x", "inner", "inner_dense", "shared", "head"]
    assert model.name not in names


def test_a_flat_model_gives_its_layers(small_cnn):
    model = small_cnn()
    assert walk_layers(model) == model.layers
