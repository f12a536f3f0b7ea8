"""Tests of the Keras 3 → tf_keras bridge used for tfmot."""

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.optimize import bridge

# find_spec, not importorskip: importing tfmot would set TF_USE_LEGACY_KERAS
# for the whole test session; kdkeras.optimize imports it and restores it.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_model_optimization") is None,
    reason='needs `pip install "kdkeras[optimize]"`',
)


@pytest.fixture(scope="module")
def images():
    (_, _), (x_test, _) = kdkeras.datasets.load_embedded_fashion_mnist()
    return x_test[:32, ..., None].astype("float32")


def _student_with_statistics(seed=0):
    """A `build_cnn` student whose BatchNorm statistics are not the defaults."""
    keras.utils.set_random_seed(seed)
    student = kdkeras.models.build_cnn(filters=(4, 8), dense_units=16, dropout=0.2)
    rng = np.random.default_rng(seed)
    for layer in student.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    gamma + rng.normal(0, 0.1, gamma.shape),
                    beta + rng.normal(0, 0.1, beta.shape),
                    rng.normal(0, 0.5, mean.shape),
                    rng.uniform(0.5, 2.0, variance.shape),
                ]
            )
    return student


def test_importing_kdkeras_optimize_loads_neither_tf_keras_nor_tfmot():
    script = (
        "import os, sys\n"
        "import kdkeras, kdkeras.optimize\n"
        "loaded = {'tf_keras', 'tensorflow_model_optimization'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "assert 'TF_USE_LEGACY_KERAS' not in os.environ\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    subprocess.run([sys.executable, "-c", script], check=True, env=env)


def test_tfmot_import_leaves_the_environment_as_it_was():
    before = os.environ.get("TF_USE_LEGACY_KERAS")
    assert bridge.tfmot().sparsity is not None
    assert os.environ.get("TF_USE_LEGACY_KERAS") == before


def test_build_cnn_rebuild_gives_the_same_outputs(images):
    student = _student_with_statistics()
    rebuilt = bridge.to_tf_keras(student)
    assert type(rebuilt).__module__.startswith("tf_keras")
    assert [layer.name for layer in rebuilt.layers] == [
        layer.name for layer in student.layers
    ]
    assert bridge.check_same_outputs(student, rebuilt, images, atol=1e-5) <= 1e-5


def test_sequential_and_nested_models_are_rebuilt(small_cnn, digits):
    x, _ = digits
    sequential = small_cnn(seed=3)
    np.testing.assert_allclose(
        bridge.to_tf_keras(sequential)(x[:16]).numpy(),
        sequential(x[:16]),
        atol=1e-5,
    )
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    merged = keras.layers.Add()([features, keras.layers.ReLU()(features)])
    outputs = small_cnn(filters=2, seed=4)(keras.layers.Conv2D(1, 1)(merged))
    nested = keras.Model(inputs, outputs)
    rebuilt = bridge.to_tf_keras(nested)
    assert bridge.check_same_outputs(nested, rebuilt, x[:16]) <= 1e-5


def test_output_check_catches_a_perturbed_weight(images):
    student = _student_with_statistics()
    rebuilt = bridge.to_tf_keras(student)
    layer = rebuilt.get_layer("logits")
    kernel, bias = layer.get_weights()
    bias[3] += 1e-3
    layer.set_weights([kernel, bias])
    with pytest.raises(
        bridge.BridgeMismatchError, match=r"max \|difference\| = 0.001 "
    ):
        bridge.check_same_outputs(student, rebuilt, images)


def test_to_keras3_copies_weights_back(images):
    student = _student_with_statistics()
    rebuilt = bridge.to_tf_keras(student)
    dense = rebuilt.get_layer("dense")
    dense.set_weights([w * 0.5 for w in dense.get_weights()])
    copy = keras.models.clone_model(student)
    bridge.to_keras3(rebuilt, copy)
    np.testing.assert_allclose(copy(images), rebuilt(images).numpy(), atol=1e-5)


class Doubling(keras.layers.Layer):
    def call(self, inputs):
        return 2.0 * inputs


def test_layer_without_tf_keras_counterpart_is_named():
    model = keras.Sequential(
        [keras.Input((4,)), Doubling(name="twice"), keras.layers.Dense(2)]
    )
    with pytest.raises(bridge.UnsupportedLayerError, match=r"'twice' \(Doubling\)"):
        bridge.to_tf_keras(model)


def test_keras_operation_between_layers_is_named():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs[:, :2]))
    with pytest.raises(bridge.UnsupportedLayerError, match=r"\(GetItem\)"):
        bridge.to_tf_keras(model)


def test_keras3_only_setting_is_refused_not_dropped():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    model.get_layer("d").enable_lora(2)
    with pytest.raises(bridge.UnsupportedLayerError, match="lora_rank=2"):
        bridge.to_tf_keras(model)
