"""Checks of `kdkeras.compat` against the installed libraries.

Each test pins down what kdkeras relies on of a private API; a release that
changes it fails here, by name, rather than deep in training or export.
"""

import importlib.util
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from kdkeras import compat
from kdkeras.export import export_litert

needs_tfmot = pytest.mark.skipif(
    # find_spec, not importorskip: importing tfmot would set
    # TF_USE_LEGACY_KERAS for the whole session; `bridge.tfmot()` restores it.
    importlib.util.find_spec("tensorflow_model_optimization") is None,
    reason='needs `pip install "kdkeras[optimize]"`',
)

# Logical devices must be set before TensorFlow starts: a fresh interpreter.
_LOSS_SCALING_SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    from kdkeras import compat

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    loss = tf.constant(6.0)

    def per_replica(function):
        values = strategy.run(function, args=(loss,))
        return [float(v) for v in strategy.experimental_local_results(values)]

    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "scaled": per_replica(compat.scale_loss_for_distribution),
        "unscaled": per_replica(compat.unscale_loss_for_distribution),
        "scaled_outside": float(compat.scale_loss_for_distribution(loss)),
        "unscaled_outside": float(compat.unscale_loss_for_distribution(loss)),
    }))
    """
)


def test_loss_scaling_follows_the_replicas():
    completed = subprocess.run(
        [sys.executable, "-c", _LOSS_SCALING_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result == {
        "replicas": 2,
        "scaled": [3.0, 3.0],
        "unscaled": [12.0, 12.0],
        "scaled_outside": 6.0,
        "unscaled_outside": 6.0,
    }


def test_litert_ops_lists_ops_and_tensors(dense_model, tmp_path):
    path = export_litert(dense_model(units=3), tmp_path / "dense.tflite")
    interpreter = Interpreter(model_path=path)
    ops = compat.litert_ops(interpreter)

    assert [op["op_name"] for op in ops] == ["FULLY_CONNECTED"]
    (op,) = ops
    assert op["index"] == 0
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    activation, kernel = op["inputs"][:2]
    assert tuple(tensors[activation]["shape"]) == (1, 4)
    assert tuple(tensors[kernel]["shape"]) == (3, 4)
    (output,) = op["outputs"]
    assert tuple(tensors[output]["shape"]) == (1, 3)


def test_is_tf_keras_model_tells_keras_2_models_apart(dense_model, monkeypatch):
    import keras

    keras_3 = dense_model(units=3)
    assert not compat.is_tf_keras_model(keras_3)
    # Without tf_keras imported, nothing is a tf_keras model (and it stays
    # unimported).
    monkeypatch.delitem(sys.modules, "tf_keras", raising=False)
    assert not compat.is_tf_keras_model(keras_3)
    assert "tf_keras" not in sys.modules

    class Model:  # What `tf_keras.Model` is to the check: another class.
        pass

    monkeypatch.setitem(sys.modules, "tf_keras", type(sys)("tf_keras"))
    sys.modules["tf_keras"].Model = Model
    assert compat.is_tf_keras_model(Model())
    assert not compat.is_tf_keras_model(keras_3)
    assert not compat.is_tf_keras_model(keras.layers.Dense(2))


def test_producing_layer_is_the_layer_that_made_a_tensor():
    import keras

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    inner = keras.Model(inputs, hidden, name="inner")
    outer_inputs = keras.Input((4,))
    outputs = keras.layers.Softmax(name="softmax")(inner(outer_inputs))
    outer = keras.Model(outer_inputs, outputs)

    assert compat.producing_layer(inner.outputs[0]) is inner.get_layer("hidden")
    assert compat.producing_layer(outer.outputs[0]) is outer.get_layer("softmax")
    softmax_input = outer.get_layer("softmax").input
    assert compat.producing_layer(softmax_input) is inner
    assert compat.producing_layer(np.zeros((1, 4))) is None


def _tfmot():
    from kdkeras.optimize import bridge

    return bridge.tf_keras(), bridge.tfmot()


def _tf_keras_cnn(tfk):
    return tfk.Sequential(
        [
            tfk.Input((8, 8, 1)),
            tfk.layers.Conv2D(4, 3, name="conv"),
            tfk.layers.ReLU(name="relu"),
            tfk.layers.Flatten(name="flatten"),
            tfk.layers.Dense(3, name="dense"),
        ]
    )


@needs_tfmot
def test_tfmot_batch_range_inverts_an_update():
    tfk, tfmot = _tfmot()
    quantizer = tfmot.quantization.keras.quantizers.MovingAverageQuantizer(
        num_bits=8, per_axis=False, symmetric=False, narrow_range=False
    )
    holder = tfk.layers.Layer()
    variables = quantizer.build((2, 3), "output", holder)
    before = [variables["min_var"].numpy(), variables["max_var"].numpy()]
    x = np.array([[-2.0, 0.5, 1.0], [0.0, 3.0, -1.0]], "float32")

    quantizer(tf.constant(x), training=True, weights=variables)

    after = [variables["min_var"].numpy(), variables["max_var"].numpy()]
    assert before == [-6.0, 6.0]
    recovered = [
        compat.tfmot_batch_range(a, b) for a, b in zip(after, before, strict=True)
    ]
    np.testing.assert_allclose(recovered, [-2.0, 3.0], rtol=1e-3)
    assert compat.TFMOT_MOVING_AVERAGE_DECAY == 0.999


@needs_tfmot
def test_tfmot_activation_ranges_are_found():
    tfk, tfmot = _tfmot()
    qat_model = tfmot.quantization.keras.quantize_model(_tf_keras_cnn(tfk))

    ranges = compat.tfmot_activation_ranges(qat_model)

    names = sorted(w.name.split(":")[0].split("/")[-1] for w in ranges)
    assert names and {"post_activation_min", "post_activation_max"} <= set(names)
    assert all(np.all(np.abs(w.numpy()) == 6.0) for w in ranges)
    # The other ranges: kernels (recomputed from the weights at each step) and
    # the input layer's (an AllValuesQuantizer, not a moving average).
    others = [
        w.name
        for w in qat_model.non_trainable_weights
        if w.name.split(":")[0].endswith(("_min", "_max"))
        and not any(w is r for r in ranges)
    ]
    assert others
    for name in others:
        assert name.split(":")[0].endswith(("kernel_min", "kernel_max")) or (
            "quantize_layer" in name
        ), name


@needs_tfmot
def test_tfmot_layer_weights_are_the_layers():
    tfk, tfmot = _tfmot()
    model = _tf_keras_cnn(tfk)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(
        model,
        pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0),
    )
    quantized = tfmot.quantization.keras.quantize_model(model)

    wrappers = [
        pruned.get_layer("prune_low_magnitude_dense"),
        quantized.get_layer("quant_dense"),
    ]
    for wrapped in wrappers:
        assert len(wrapped.weights) > 2
        kept = compat.tfmot_layer_weights(wrapped)
        assert [tuple(w.shape) for w in kept] == [(6 * 6 * 4, 3), (3,)]
    assert compat.tfmot_layer_weights(model.get_layer("dense")) == list(
        model.get_layer("dense").weights
    )


@needs_tfmot
def test_tfmot_unsupported_layer_is_read():
    tfk, tfmot = _tfmot()
    model = tfk.Sequential(
        [tfk.Input((4,)), tfk.layers.Rescaling(0.5, name="scale"), tfk.layers.Dense(2)]
    )
    with pytest.raises((RuntimeError, ValueError)) as info:
        tfmot.quantization.keras.quantize_model(model)

    assert compat.tfmot_unsupported_layer(str(info.value)) == ("scale", "Rescaling")
    assert compat.tfmot_unsupported_layer("something else went wrong") is None


# Each public function of `kdkeras.compat` and the test that pins it down.
def test_multi_worker_fit_relies_on_keras_tensorflow_trainer():
    """What `MultiWorkerFit` takes of Keras' TensorFlow trainer; it is tested
    end to end on two workers in tests/distillation/test_multi_worker.py."""
    import inspect

    import keras
    from keras.src.backend.tensorflow import trainer

    build = trainer.TensorFlowTrainer._maybe_symbolic_build
    assert list(inspect.signature(build).parameters) == [
        "self",
        "iterator",
        "data_batch",
    ]
    strategy = tf.distribute.get_strategy()
    assert not trainer._collective_all_reduce_multi_worker(strategy)
    # The epoch iterator yields `(begin, end, iterator)`.
    x, y = np.arange(24, dtype="float32").reshape(6, 4), np.arange(6)
    iterator = trainer.TFEpochIterator(
        x=x, y=y, batch_size=4, shuffle=False, distribute_strategy=strategy
    )
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    batch = compat._local_batch(model, iterator)
    np.testing.assert_array_equal(batch[0], x[:4])
    np.testing.assert_array_equal(batch[1], y[:4])
    # One process: the logs stay scalars.
    logs = {"loss": tf.constant(1.5)}
    assert compat._with_replica_axis(model, logs) is logs


_TESTS = {
    "MultiWorkerFit": test_multi_worker_fit_relies_on_keras_tensorflow_trainer,
    "scale_loss_for_distribution": test_loss_scaling_follows_the_replicas,
    "unscale_loss_for_distribution": test_loss_scaling_follows_the_replicas,
    "litert_ops": test_litert_ops_lists_ops_and_tensors,
    "is_tf_keras_model": test_is_tf_keras_model_tells_keras_2_models_apart,
    "producing_layer": test_producing_layer_is_the_layer_that_made_a_tensor,
    "tfmot_batch_range": test_tfmot_batch_range_inverts_an_update,
    "tfmot_activation_ranges": test_tfmot_activation_ranges_are_found,
    "tfmot_layer_weights": test_tfmot_layer_weights_are_the_layers,
    "tfmot_unsupported_layer": test_tfmot_unsupported_layer_is_read,
}


def test_every_compat_function_has_a_test():
    public = {
        name
        for name, value in vars(compat).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == compat.__name__
    }
    assert public == set(_TESTS)
