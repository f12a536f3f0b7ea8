"""Tests of `kdkeras.export.export_litert`: accuracy, size, errors, atomicity."""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import kdkeras
from kdkeras.export import ExportError, Quantization, converter, export_litert


def run_tflite(path, x):
    """Runs the `.tflite` model at `path` on the batch `x`, as float outputs."""
    interpreter = Interpreter(model_path=str(path))
    (input_details,) = interpreter.get_input_details()
    (output_details,) = interpreter.get_output_details()
    interpreter.resize_tensor_input(input_details["index"], x.shape)
    interpreter.allocate_tensors()
    scale, zero_point = input_details["quantization"]
    if input_details["dtype"] == np.int8:
        x = np.clip(np.round(x / scale) + zero_point, -128, 127)
    interpreter.set_tensor(input_details["index"], x.astype(input_details["dtype"]))
    interpreter.invoke()
    y = interpreter.get_tensor(output_details["index"])
    scale, zero_point = output_details["quantization"]
    if output_details["dtype"] == np.int8:
        y = (y.astype("float32") - zero_point) * scale
    return y


@pytest.fixture(scope="module")
def fashion():
    (x_train, y_train), (x_test, _) = kdkeras.datasets.load_embedded_fashion_mnist()
    return x_train[:2000, ..., None], y_train[:2000], x_test[:500, ..., None]


@pytest.fixture(scope="module")
def trained_cnn(fashion):
    """A CNN whose Dense weights (100k) dominate its file, after one epoch."""
    x_train, y_train, _ = fashion
    keras.utils.set_random_seed(0)
    model = kdkeras.models.build_cnn(
        filters=(8, 16), dense_units=128, pooling="flatten"
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    return model


@pytest.fixture(scope="module")
def exported(trained_cnn, fashion, tmp_path_factory):
    """Paths of the float32 and int8 exports of `trained_cnn`."""
    directory = tmp_path_factory.mktemp("exported")
    paths = {q: str(directory / f"model_{q}.tflite") for q in ("float32", "int8")}
    export_litert(trained_cnn, paths["float32"])
    export_litert(
        trained_cnn, paths["int8"], quantization="int8", representative_data=fashion[0]
    )
    return paths


def tiny_model(name="tiny"):
    keras.utils.set_random_seed(0)
    return kdkeras.models.build_cnn(filters=(4,), dense_units=None, name=name)


def test_returns_path_and_float32_matches_keras(trained_cnn, fashion, exported):
    x_test = fashion[2].astype("float32")
    expected = trained_cnn.predict(x_test, verbose=0)
    np.testing.assert_allclose(
        run_tflite(exported["float32"], x_test), expected, atol=1e-4
    )


def test_int8_agrees_with_keras_and_is_small(trained_cnn, fashion, exported):
    x_test = fashion[2].astype("float32")
    expected = trained_cnn.predict(x_test, verbose=0).argmax(-1)
    agreement = np.mean(run_tflite(exported["int8"], x_test).argmax(-1) == expected)
    assert agreement >= 0.98
    size_ratio = os.path.getsize(exported["int8"]) / os.path.getsize(
        exported["float32"]
    )
    assert size_ratio <= 0.3


def test_int8_integer_io_from_batched_tf_data(trained_cnn, fashion, tmp_path):
    x_train, y_train, x_test = fashion
    dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32)
    path = export_litert(
        trained_cnn,
        tmp_path / "model.tflite",
        quantization=Quantization(
            "int8", num_calibration_examples=300, integer_io=True
        ),
        representative_data=dataset,
    )
    assert path == str(tmp_path / "model.tflite")
    interpreter = Interpreter(model_path=path)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    x_test = x_test.astype("float32")
    expected = trained_cnn.predict(x_test, verbose=0).argmax(-1)
    assert np.mean(run_tflite(path, x_test).argmax(-1) == expected) >= 0.98


@pytest.mark.parametrize("quantization", ["float16", "dynamic_range"])
def test_weight_quantizations_are_smaller_and_agree(
    quantization, trained_cnn, fashion, exported, tmp_path
):
    path = export_litert(trained_cnn, tmp_path / "m.tflite", quantization=quantization)
    x_test = fashion[2][:200].astype("float32")
    expected = trained_cnn.predict(x_test, verbose=0).argmax(-1)
    assert np.mean(run_tflite(path, x_test).argmax(-1) == expected) >= 0.98
    limit = 0.6 if quantization == "float16" else 0.35
    assert os.path.getsize(path) <= limit * os.path.getsize(exported["float32"])


@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_falls_back_to_saved_model(quantization, monkeypatch, fashion, tmp_path):
    def unavailable(model, path, options):
        raise ValueError("Unrecognized format=litert.")

    monkeypatch.setattr(converter, "_convert_with_keras", unavailable)
    model = tiny_model()
    path = export_litert(
        model,
        tmp_path / "fallback.tflite",
        quantization=Quantization(quantization, integer_io=quantization == "int8"),
        representative_data=fashion[0][:100],
    )
    x_test = fashion[2][:50].astype("float32")
    expected = model.predict(x_test, verbose=0)
    if quantization == "float32":
        np.testing.assert_allclose(run_tflite(path, x_test), expected, atol=1e-4)
    else:
        input_dtype = Interpreter(model_path=path).get_input_details()[0]["dtype"]
        assert input_dtype == np.int8
        agreement = np.mean(run_tflite(path, x_test).argmax(-1) == expected.argmax(-1))
        assert agreement >= 0.9


def bicubic_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Resizing(16, 16, interpolation="bicubic", name="camera"),
            keras.layers.Conv2D(4, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ],
        name="bicubic",
    )


def test_op_without_builtin_kernel_raises_export_error(tmp_path):
    path = tmp_path / "bicubic.tflite"
    with pytest.raises(ExportError) as info:
        export_litert(bicubic_model(), path)
    message = str(info.value)
    for expected in ("ResizeBicubic", "'camera'", "allow_select_tf_ops=True", "out"):
        assert expected in message
    assert os.listdir(tmp_path) == []


def test_allow_select_tf_ops_converts(tmp_path):
    """The file keeps the model's ops, the bicubic resize as a Flex (select
    TF) op, and computes the Keras outputs where a Flex delegate is linked;
    an interpreter without one refuses it, naming that op."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = bicubic_model()
    path = export_litert(model, tmp_path / "bicubic.tflite", allow_select_tf_ops=True)
    codes = flatbuffer_utils.read_model(str(path)).operatorCodes
    custom = {code.customCode.decode() for code in codes if code.customCode}
    builtin = {max(code.builtinCode, code.deprecatedBuiltinCode) for code in codes}
    assert custom == {"FlexResizeBicubic"}
    names = {
        name for name, value in vars(schema.BuiltinOperator).items() if value in builtin
    }
    assert {"CONV_2D", "FULLY_CONNECTED", "CUSTOM"} <= names
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype="float32")
    try:
        outputs = run_tflite(path, x)
    except RuntimeError as error:
        # The pip ai_edge_litert links no Flex delegate: the file is refused
        # for that op alone, so its outputs cannot be compared here.
        assert "FlexResizeBicubic" in str(error) and "Flex delegate" in str(error)
        return
    np.testing.assert_allclose(outputs, model(x), rtol=1e-4, atol=1e-4)


def test_int8_with_float_ops_left_raises_export_error(siren, tmp_path):
    data = np.random.default_rng(0).random((20, 16), dtype="float32")
    with pytest.raises(ExportError) as info:
        export_litert(
            siren, tmp_path / "m.tflite", quantization="int8", representative_data=data
        )
    message = str(info.value)
    for expected in ("SIN (layer 'sine')", "quantization='dynamic_range'"):
        assert expected in message
    assert os.listdir(tmp_path) == []


def test_failure_midway_leaves_no_file(monkeypatch, tmp_path):
    def fails(model, path, options):
        with open(path, "wb") as file:
            file.write(b"half a model")
        raise RuntimeError("converter crashed")

    monkeypatch.setattr(converter, "_convert", fails)
    with pytest.raises(RuntimeError, match="converter crashed"):
        export_litert(tiny_model(), tmp_path / "m.tflite")
    assert os.listdir(tmp_path) == []


def test_interrupted_calibration_leaves_no_file(monkeypatch, fashion, tmp_path):
    def interrupted(*args, **kwargs):
        def generate():
            yield [fashion[0][:1].astype("float32")]
            raise KeyboardInterrupt

        return generate

    monkeypatch.setattr(converter.calibration, "representative_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_litert(
            tiny_model(),
            tmp_path / "m.tflite",
            quantization="int8",
            representative_data=fashion[0],
        )
    assert os.listdir(tmp_path) == []


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_litert(tiny_model(), path)
    assert path.read_bytes() == b"old"
    export_litert(tiny_model(), path, overwrite=True)
    assert path.stat().st_size > 1000
    assert sorted(os.listdir(tmp_path)) == ["m.tflite"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"quantization": "int4"},
            "`quantization` must be one of ('float32', 'float16', 'dynamic_range', "
            "'int8') or a kdkeras.export.Quantization. Received: quantization='int4'",
        ),
        ({"quantization": "int8"}, "`representative_data` is required"),
        ({"quantization": 8}, "Received: quantization of type int"),
        (
            {
                "quantization": Quantization(
                    "int8", quantization_aware=True, integer_io=True
                )
            },
            "`representative_data` is required with `integer_io=True`",
        ),
        (
            {"quantization": "int8", "representative_data": np.zeros((4, 28, 28))},
            "`representative_data` must hold model inputs of shape (28, 28, 1)",
        ),
    ],
)
def test_bad_arguments(kwargs, message, tmp_path):
    with pytest.raises(ValueError) as info:
        export_litert(tiny_model(), tmp_path / "m.tflite", **kwargs)
    assert message in str(info.value)
    assert os.listdir(tmp_path) == []


def test_path_must_end_with_tflite(tmp_path):
    with pytest.raises(ValueError, match="`path` must end with '.tflite'"):
        export_litert(tiny_model(), tmp_path / "m.lite")


def test_model_must_be_a_keras_model(tmp_path):
    with pytest.raises(TypeError, match="`model` must be a `keras.Model`"):
        export_litert(lambda x: x, tmp_path / "m.tflite")
    with pytest.raises(TypeError, match=r"\(.keras, .h5\). Received: model='m.tflite'"):
        export_litert("m.tflite", tmp_path / "m.tflite")
    assert os.listdir(tmp_path) == []


def test_a_keras_file_is_loaded_and_converted(tmp_path):
    model = tiny_model()
    model.save(tmp_path / "student.keras")
    path = export_litert(str(tmp_path / "student.keras"), tmp_path / "student.tflite")
    x = np.random.default_rng(0).uniform(0, 255, (3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        kdkeras.litert.LiteRTModel(path).predict(x),
        model.predict(x, verbose=0),
        atol=1e-4,
    )


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_non_finite_calibration_data_is_refused_before_the_converter(
    trained_cnn, fashion, tmp_path, monkeypatch, bad_value
):
    """The converter can crash (segfault) or silently fail on NaN/inf inputs:
    they are refused first, and nothing is written."""
    calibration = np.asarray(fashion[0][:50], dtype="float32")
    calibration[7, 3, 3, 0] = bad_value
    converted = []
    monkeypatch.setattr(converter, "_convert", lambda *args: converted.append(args))
    path = tmp_path / "student_int8.tflite"
    for data in (calibration, tf.data.Dataset.from_tensor_slices(calibration)):
        with pytest.raises(
            ValueError,
            match=r"`representative_data` must be finite: 1 of the 50.*\[7\]",
        ):
            export_litert(
                trained_cnn, path, quantization="int8", representative_data=data
            )
    assert not converted and not os.listdir(tmp_path)


def test_verbose_prints_the_conversion_and_its_check(fashion, tmp_path, capsys):
    x_train = fashion[0][:20]
    export_litert(tiny_model(), tmp_path / "quiet.tflite")
    assert capsys.readouterr().out == ""  # Quiet by default.
    export_litert(
        tiny_model(),
        tmp_path / "m.tflite",
        quantization="int8",
        representative_data=x_train,
        verbose=2,
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "int8: calibrating on 20 examples …"
    assert re.fullmatch(
        r"int8: converted in [\d.]+ s, [\d.]+ KB; checked against Keras on 8 "
        r"inputs: top-1 agreement [\d.]+, max difference \S+",
        lines[1],
    ), lines[1]
    assert len(lines) == 2
    export_litert(
        tiny_model(),
        tmp_path / "bar.tflite",
        quantization="int8",
        representative_data=x_train,
        verbose=1,
    )
    output = capsys.readouterr().out
    assert "20/20" in output  # The Progbar of the calibration.
    assert output.splitlines()[-1].startswith("int8: converted in ")
    export_litert(tiny_model(), tmp_path / "f.tflite", verbose=2)
    assert capsys.readouterr().out.splitlines()[0] == "float32: converting …"
