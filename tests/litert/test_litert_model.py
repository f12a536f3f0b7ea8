"""Tests of kdkeras.litert.litert_model: quantization, predict, errors.

The student and its `.tflite` files are session fixtures of `conftest.py`.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from kdkeras.litert import LiteRTModel, dequantize, quantize
from kdkeras.litert.litert_model import tensor_quantization


def to_float32_tflite(model, path, input_signature=None):
    """Converts `model` with Keras' own `model.export(..., format="litert")`."""
    model.export(
        os.fspath(path),
        format="litert",
        verbose=False,
        input_signature=input_signature,
    )
    return os.fspath(path)


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
    model.predict(np.zeros((4, 28, 28, 1)), batch_size=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("2/2 - ")  # As Keras' predict.


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 28, 28, 3), (28, 28, 1)])
def test_wrong_input_shape(float32_tflite, shape):
    model = LiteRTModel(float32_tflite)
    message = r"`x` must have shape \(N, 28, 28, 1\).*Received: x of shape"
    with pytest.raises(ValueError, match=message):
        model.predict(np.zeros(shape))
    with pytest.raises(ValueError, match=message):
        model.set_input(np.zeros(shape))


def test_errors(float32_tflite, tmp_path):
    with pytest.raises(FileNotFoundError, match="`path` must be an existing"):
        LiteRTModel(tmp_path / "missing.tflite")
    with pytest.raises(ValueError, match="`num_threads` must be a positive"):
        LiteRTModel(float32_tflite, num_threads=0)
    model = LiteRTModel(float32_tflite)
    with pytest.raises(ValueError, match="`batch_size` must be a positive"):
        model.predict(np.zeros((2, 28, 28, 1)), batch_size=0)
    with pytest.raises(ValueError, match="`verbose` must be"):
        model.predict(np.zeros((2, 28, 28, 1)), verbose=3)
    with pytest.raises(ValueError, match="`x` must hold numbers"):
        model.predict(np.full((2, 28, 28, 1), "a"))


def test_ops_are_those_of_the_file_with_their_tensors(int8_tflite):
    model = LiteRTModel(int8_tflite)
    model.predict(np.zeros((2, 28, 28, 1)), verbose=0)
    names = [op["op_name"] for op in model.ops]
    # As stored: no DELEGATE node of XNNPACK, which runs the model.
    assert "DELEGATE" not in names
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(names)
    tensors = {t["index"]: t for t in model.tensor_details}
    conv = next(op for op in model.ops if op["op_name"] == "CONV_2D")
    kernel = model.get_tensor(conv["inputs"][1])
    assert kernel.dtype == np.int8
    assert kernel.shape == tuple(tensors[conv["inputs"][1]]["shape"])


def test_tensor_quantization_has_one_convention_for_unquantized(
    float32_tflite, int8_tflite
):
    (float_input,) = LiteRTModel(float32_tflite).input_details
    assert tensor_quantization(float_input) == (None, 0)
    (int8_input,) = LiteRTModel(int8_tflite).input_details
    scale, zero_point = tensor_quantization(int8_input)
    assert (scale, zero_point) == pytest.approx(int8_input["quantization"])
    assert scale > 0 and isinstance(zero_point, int)
