"""Tests of kdkeras.litert.runner: quantization, predict, errors.

The cached helpers here (a briefly trained student and its float32 and int8
`.tflite` files) are shared with `test_litert_checks.py` and
`test_litert_latency.py`, so the three files train and convert once.
"""

import functools
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.litert import LiteRTModel, dequantize, quantize
from kdkeras.models import build_cnn


def to_float32_tflite(model, path, input_signature=None):
    """Converts `model` with Keras' own `model.export(..., format="litert")`."""
    model.export(
        os.fspath(path),
        format="litert",
        verbose=False,
        input_signature=input_signature,
    )
    return os.fspath(path)


def to_int8_tflite(model, path, representative_x):
    """Full-integer conversion with int8 inputs and outputs.

    Goes through a SavedModel: `from_concrete_functions` on a Keras model gives
    NaN outputs with TF 2.21.
    """
    saved_model = os.fspath(path) + ".saved_model"
    model.export(saved_model, format="tf_saved_model", verbose=False)

    def representative_dataset():
        for example in representative_x:
            yield [example[None].astype("float32")]

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with open(path, "wb") as file:
        file.write(converter.convert())
    return os.fspath(path)


@functools.cache
def fashion_subset():
    """`(x_train, y_train), (x_test, y_test)`: uint8 images with a channel axis."""
    (x_train, y_train), (x_test, y_test) = load_embedded_fashion_mnist()
    return (x_train[:3000, ..., None], y_train[:3000]), (
        x_test[:500, ..., None],
        y_test[:500],
    )


@functools.cache
def trained_student():
    """A small CNN trained for two epochs (about 83% test accuracy).

    Cached, so the test files of kdkeras.litert share one training.
    """
    (x_train, y_train), _ = fashion_subset()
    keras.utils.set_random_seed(0)
    model = build_cnn(filters=(8, 16), dense_units=32, pooling="flatten")
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)
    return model


@functools.cache
def student_tflite_files(directory):
    """`(float32_path, int8_path)`: the student converted, in `directory`."""
    os.makedirs(directory, exist_ok=True)
    (x_train, _), _ = fashion_subset()
    student = trained_student()
    float32_path = to_float32_tflite(
        student, os.path.join(directory, "student_float32.tflite")
    )
    int8_path = to_int8_tflite(
        student, os.path.join(directory, "student_int8.tflite"), x_train[:200]
    )
    return float32_path, int8_path


@pytest.fixture
def fashion():
    return fashion_subset()


@pytest.fixture
def student():
    return trained_student()


@pytest.fixture
def float32_tflite(tmp_path_factory):
    return student_tflite_files(str(tmp_path_factory.getbasetemp() / "litert"))[0]


@pytest.fixture
def int8_tflite(tmp_path_factory):
    return student_tflite_files(str(tmp_path_factory.getbasetemp() / "litert"))[1]


def test_quantize_int8_by_hand():
    # scale 0.5, zero point -3: q = round(v / 0.5) - 3, clipped to [-128, 127];
    # halves round to even, as LiteRT does.
    values = np.array([-100.0, -1.0, -0.25, 0.0, 0.75, 1.25, 10.0, 100.0])
    expected = np.array([-128, -5, -3, -3, -1, -1, 17, 127], dtype=np.int8)
    quantized = quantize(values, scale=0.5, zero_point=-3, dtype=np.int8)
    assert quantized.dtype == np.int8
    np.testing.assert_array_equal(quantized, expected)


def test_quantize_uint8_by_hand():
    # scale 2, zero point 10: q = round(v / 2) + 10, clipped to [0, 255].
    values = np.array([-30.0, 0.0, 3.0, 7.0, 1000.0], dtype=np.float32)
    expected = np.array([0, 10, 12, 14, 255], dtype=np.uint8)
    quantized = quantize(values, scale=2.0, zero_point=10, dtype=np.uint8)
    np.testing.assert_array_equal(quantized, expected)


def test_dequantize_by_hand():
    integers = np.array([-128, -3, 0, 127], dtype=np.int8)
    # (q + 3) * 0.5; computed in int32, so -128 - (-3) does not wrap around.
    expected = np.array([-62.5, 0.0, 1.5, 65.0], dtype=np.float32)
    real = dequantize(integers, scale=0.5, zero_point=-3)
    assert real.dtype == np.float32
    np.testing.assert_array_equal(real, expected)


def test_float32_predict_matches_keras(student, float32_tflite, fashion):
    _, (x_test, _) = fashion
    model = LiteRTModel(float32_tflite, num_threads=1)
    # 500 examples in batches of 64: the last batch (52) resizes the input.
    outputs = model.predict(x_test, batch_size=64, verbose=0)
    expected = student.predict(x_test, verbose=0)
    assert outputs.dtype == np.float32
    assert outputs.shape == (500, 10)
    np.testing.assert_allclose(outputs, expected, atol=1e-4, rtol=0)


def test_properties(float32_tflite):
    model = LiteRTModel(float32_tflite)
    assert model.input_shape == (None, 28, 28, 1)
    assert model.input_dtype == np.float32
    assert model.size_bytes == os.path.getsize(float32_tflite)
    assert model.name == "student_float32"
    assert model.num_threads is None
    assert len(model.input_details) == 1
    assert len(model.output_details) == 1
    assert "student_float32.tflite" in repr(model)


def test_uint8_inputs_are_cast_to_float32(float32_tflite, fashion):
    _, (x_test, _) = fashion
    model = LiteRTModel(float32_tflite)
    from_uint8 = model.predict(x_test[:10], verbose=0)
    from_float = model.predict(x_test[:10].astype("float32"), verbose=0)
    np.testing.assert_array_equal(from_uint8, from_float)


def test_int8_predict_quantizes_inputs_and_dequantizes_outputs(int8_tflite, fashion):
    _, (x_test, _) = fashion
    model = LiteRTModel(int8_tflite)
    assert model.input_dtype == np.int8
    outputs = model.predict(x_test[:20], batch_size=8, verbose=0)
    assert outputs.dtype == np.float32

    # The same by hand, with the interpreter, one example at a time.
    interpreter = Interpreter(model_path=int8_tflite)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()[0]
    output_details = interpreter.get_output_details()[0]
    in_scale, in_zero = input_details["quantization"]
    out_scale, out_zero = output_details["quantization"]
    for example, output in zip(x_test[:20], outputs, strict=True):
        q = np.clip(np.round(example / in_scale) + in_zero, -128, 127)
        interpreter.set_tensor(input_details["index"], q[None].astype(np.int8))
        interpreter.invoke()
        q_out = interpreter.get_tensor(output_details["index"])[0].astype(np.int32)
        np.testing.assert_allclose(output, (q_out - out_zero) * out_scale, rtol=1e-6)


def test_fixed_batch_model_runs_example_by_example(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    keras_model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    signature = [tf.TensorSpec((1, 4), tf.float32)]
    path = to_float32_tflite(keras_model, tmp_path / "fixed.tflite", signature)
    model = LiteRTModel(path)
    assert model.input_shape == (1, 4)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    outputs = model.predict(x, batch_size=32, verbose=0)
    np.testing.assert_allclose(
        outputs, keras_model.predict(x, batch_size=1, verbose=0), atol=1e-5
    )


def test_empty_inputs(float32_tflite):
    outputs = LiteRTModel(float32_tflite).predict(np.zeros((0, 28, 28, 1)))
    assert outputs.shape == (0, 10)


def test_progress_bar(float32_tflite, capsys):
    model = LiteRTModel(float32_tflite)
    model.predict(np.zeros((4, 28, 28, 1)), batch_size=2, verbose=1)
    assert "2/2" in capsys.readouterr().out
    model.predict(np.zeros((4, 28, 28, 1)), batch_size=2, verbose="auto")
    assert capsys.readouterr().out == ""  # A fast loop stays silent.


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 28, 28, 3), (28, 28, 1)])
def test_wrong_input_shape(float32_tflite, shape):
    model = LiteRTModel(float32_tflite)
    message = r"`x` must have shape \(N, 28, 28, 1\).*Received: x of shape"
    with pytest.raises(ValueError, match=message):
        model.predict(np.zeros(shape))


def test_errors(float32_tflite, tmp_path):
    with pytest.raises(FileNotFoundError, match="`path` must be an existing"):
        LiteRTModel(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="`num_threads` must be a positive"):
        LiteRTModel(float32_tflite, num_threads=0)
    model = LiteRTModel(float32_tflite)
    with pytest.raises(ValueError, match="`batch_size` must be a positive"):
        model.predict(np.zeros((2, 28, 28, 1)), batch_size=0)
    with pytest.raises(ValueError, match="`verbose` must be"):
        model.predict(np.zeros((2, 28, 28, 1)), verbose=2)
    with pytest.raises(ValueError, match="`x` must hold numbers"):
        model.predict(np.full((2, 28, 28, 1), "a"))
