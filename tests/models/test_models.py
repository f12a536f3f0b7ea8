"""Tests of kdkeras.models: the CNN and MLP builders."""

import keras
import numpy as np
import pytest

from kdkeras.distillation.outputs import ends_in_softmax
from kdkeras.models import build_cnn, build_mlp


def uint8_images(num_images, shape=(28, 28, 1), seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_images, *shape), dtype=np.uint8)


def layer_types(model):
    return [type(layer) for layer in model.layers]


# build_cnn


def test_cnn_outputs_one_logit_per_class_for_uint8_images():
    model = build_cnn(filters=(4, 8), dense_units=8)
    logits = model.predict(uint8_images(3), verbose=0)
    assert logits.shape == (3, 10)
    assert np.all(np.isfinite(logits))


def test_cnn_takes_any_image_shape_and_number_of_classes():
    model = build_cnn(num_classes=5, input_shape=(32, 32, 3), filters=(4,))
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 5)


def test_cnn_outputs_logits_not_probabilities():
    model = build_cnn(filters=(4, 8), dense_units=8, dropout=0.5)
    assert ends_in_softmax(model) is False
    assert model.layers[-1].activation is keras.activations.linear


def test_cnn_has_one_block_per_filters_entry():
    model = build_cnn(filters=(4, 8, 16))
    conv_filters = [
        layer.filters
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert conv_filters == [4, 8, 16]
    assert layer_types(model).count(keras.layers.BatchNormalization) == 3
    assert layer_types(model).count(keras.layers.MaxPooling2D) == 3


def test_cnn_rescales_pixels_only_when_asked():
    rescaled = build_cnn(filters=(4,))
    assert isinstance(rescaled.layers[1], keras.layers.Rescaling)
    assert rescaled.layers[1].scale == pytest.approx(1 / 255)
    raw = build_cnn(filters=(4,), rescale=False)
    assert keras.layers.Rescaling not in layer_types(raw)


def test_cnn_optional_dense_and_dropout_layers():
    plain = build_cnn(filters=(4,), dense_units=None)
    assert layer_types(plain).count(keras.layers.Dense) == 1
    assert keras.layers.Dropout not in layer_types(plain)
    assert build_cnn(filters=(4,), dense_units=0).count_params() == (
        plain.count_params()
    )
    full = build_cnn(filters=(4,), dense_units=8, dropout=0.2)
    assert layer_types(full).count(keras.layers.Dense) == 2
    assert full.get_layer("dropout").rate == 0.2


@pytest.mark.parametrize(
    "smaller, larger",
    [
        (dict(filters=(4, 8)), dict(filters=(8, 16))),
        (dict(filters=(4, 8)), dict(filters=(4, 8, 16))),
        (dict(dense_units=16), dict(dense_units=32)),
        (dict(dense_units=None), dict(dense_units=16)),
        (dict(pooling="avg"), dict(pooling="flatten")),
        (dict(num_classes=2), dict(num_classes=10)),
    ],
)
def test_cnn_bigger_settings_have_more_parameters(smaller, larger):
    assert build_cnn(**smaller).count_params() < build_cnn(**larger).count_params()


def test_cnn_takes_as_many_blocks_as_the_image_size_allows():
    model = build_cnn(filters=(4,) * 4)
    assert model.get_layer("block4_pool").output.shape[1:3] == (1, 1)


def test_cnn_pooling_flatten_keeps_the_spatial_features():
    model = build_cnn(filters=(4, 8), dense_units=None, pooling="flatten")
    assert isinstance(model.get_layer("pool"), keras.layers.Flatten)
    assert model.get_layer("pool").output.shape == (None, 7 * 7 * 8)


@pytest.mark.parametrize(
    "kwargs, argument_name",
    [
        (dict(num_classes=0), "num_classes"),
        (dict(num_classes=-3), "num_classes"),
        (dict(num_classes=2.5), "num_classes"),
        (dict(num_classes=True), "num_classes"),
        (dict(num_classes="10"), "num_classes"),
        (dict(input_shape=(28, 28)), "input_shape"),
        (dict(input_shape=(28, 0, 1)), "input_shape"),
        (dict(input_shape=None), "input_shape"),
        (dict(filters=()), "filters"),
        (dict(filters=(8, 0)), "filters"),
        (dict(filters=32), "filters"),
        (dict(filters=(4,) * 5), "filters"),
        (dict(input_shape=(3, 28, 1), filters=(4, 8)), "filters"),
        (dict(dense_units=-1), "dense_units"),
        (dict(dense_units=1.5), "dense_units"),
        (dict(dropout=1.0), "dropout"),
        (dict(dropout=-0.1), "dropout"),
        (dict(dropout="0.5"), "dropout"),
        (dict(pooling="max"), "pooling"),
        (dict(pooling=["avg"]), "pooling"),
    ],
)
def test_cnn_bad_arguments_raise_value_error_naming_them(kwargs, argument_name):
    with pytest.raises(ValueError, match=f"`{argument_name}`.*Received: "):
        build_cnn(**kwargs)


# build_mlp


def test_mlp_outputs_one_logit_per_class_for_uint8_images():
    model = build_mlp(hidden_units=(16, 8), dropout=0.1)
    logits = model.predict(uint8_images(3), verbose=0)
    assert logits.shape == (3, 10)
    assert ends_in_softmax(model) is False
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [
        16,
        8,
        10,
    ]


def test_mlp_without_hidden_layers_is_a_logistic_regression():
    model = build_mlp(num_classes=3, input_shape=(5,), hidden_units=(), rescale=False)
    assert model.count_params() == 5 * 3 + 3
    assert layer_types(model).count(keras.layers.Dense) == 1


def test_mlp_wider_has_more_parameters():
    assert build_mlp(hidden_units=(16,)).count_params() < (
        build_mlp(hidden_units=(32,)).count_params()
    )


@pytest.mark.parametrize(
    "kwargs, argument_name",
    [
        (dict(num_classes=0), "num_classes"),
        (dict(input_shape=()), "input_shape"),
        (dict(input_shape=(784, -1)), "input_shape"),
        (dict(hidden_units=(16, 0)), "hidden_units"),
        (dict(hidden_units=None), "hidden_units"),
        (dict(dropout=1.5), "dropout"),
    ],
)
def test_mlp_bad_arguments_raise_value_error_naming_them(kwargs, argument_name):
    with pytest.raises(ValueError, match=f"`{argument_name}`.*Received: "):
        build_mlp(**kwargs)


# Saving


@pytest.mark.parametrize(
    "builder, kwargs",
    [
        (build_cnn, dict(filters=(4, 8), dense_units=8, dropout=0.2)),
        (build_cnn, dict(filters=(4,), dense_units=None, pooling="flatten")),
        (build_mlp, dict(hidden_units=(8,), dropout=0.2)),
    ],
)
def test_saved_and_reloaded_model_predicts_the_same(tmp_path, builder, kwargs):
    keras.utils.set_random_seed(1)
    model = builder(**kwargs)
    images = uint8_images(4)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0),
        model.predict(images, verbose=0),
        rtol=1e-6,
        atol=1e-6,
    )
    assert reloaded.name == model.name
