"""Tests of writing a QAT int8 model into a device package."""

import importlib.util
import json
import os

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.datasets import FASHION_MNIST_CLASS_NAMES
from kdkeras.evaluation import evaluate_model
from kdkeras.export import ExportError, load_device_metadata
from kdkeras.litert import LiteRTModel

# find_spec, not importorskip: importing tfmot would set TF_USE_LEGACY_KERAS
# for the whole test session; kdkeras.optimize imports it and restores it.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_model_optimization") is None,
    reason='needs `pip install "kdkeras[optimize]"`',
)
LABELS = list(FASHION_MNIST_CLASS_NAMES)


@pytest.fixture(scope="module")
def data():
    (x_train, y_train), (x_test, y_test) = (
        kdkeras.datasets.load_embedded_fashion_mnist()
    )
    return (x_train[:512, ..., None], y_train[:512]), (
        x_test[:256, ..., None],
        y_test[:256],
    )


@pytest.fixture(scope="module")
def student(data):
    keras.utils.set_random_seed(0)
    model = kdkeras.models.build_cnn(
        filters=(4, 8), dense_units=None, pooling="flatten", name="student"
    )
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(*data[0], epochs=3, batch_size=64, verbose=0)
    # Diverse predictions (about 59% accuracy, every class predicted), so
    # that the top-1 agreement of its files measures something.
    x_test, y_test = data[1]
    predicted = model.predict(x_test, verbose=0).argmax(-1)
    assert len(set(predicted)) >= 8 and np.mean(predicted == y_test) >= 0.45
    return model


@pytest.fixture(scope="module")
def qat_result(student, data):
    from kdkeras.optimize import quantize_aware

    result = quantize_aware(student, data[0], epochs=1)
    predicted = result.keras_model.predict(data[1][0], verbose=0).argmax(-1)
    assert len(set(predicted)) >= 8, np.bincount(predicted)
    return result


def _files(directory):
    return sorted(os.listdir(directory))


def test_keras_model_holds_the_fine_tuned_float_weights(qat_result, student):
    keras_model = qat_result.keras_model
    assert keras_model is not student
    wrapper = qat_result.model.get_layer("quant_block1_conv")
    np.testing.assert_array_equal(
        keras_model.get_layer("block1_conv").kernel.numpy(), wrapper.weights[0].numpy()
    )
    logits = qat_result.model.get_layer("quant_logits")
    np.testing.assert_array_equal(
        keras_model.get_layer("logits").bias.numpy(), logits.layer.bias.numpy()
    )


def test_qat_variant_is_added_and_other_variants_kept(
    qat_result, student, assert_int8_variant_added, tmp_path
):
    from kdkeras.optimize import save_qat_for_device

    kdkeras.export.save_for_device(
        student, tmp_path, LABELS, quantizations=("float32",)
    )
    with open(tmp_path / "metadata.json", encoding="utf-8") as file:
        before = json.load(file)

    saved = save_qat_for_device(qat_result, tmp_path, LABELS)

    loaded = assert_int8_variant_added(tmp_path, before, saved, LABELS, "qat_int8")
    assert set(loaded) == {"float32", "qat_int8"}
    assert loaded["qat_int8"].input_dtype == "float32"
    assert saved["check"] is None
    assert saved["tflite"] == os.path.join(tmp_path, "model_qat_int8.tflite")


def test_weights_and_activations_are_int8(qat_result, tmp_path):
    from kdkeras.export.converter_errors import float_ops
    from kdkeras.optimize import save_qat_for_device

    path = save_qat_for_device(qat_result, tmp_path, LABELS)["tflite"]
    assert float_ops(path) == []
    model = LiteRTModel(path)
    tensors = {t["index"]: t for t in model.tensor_details}
    ops = {op["op_name"]: op for op in model.ops}
    assert {"CONV_2D", "FULLY_CONNECTED"} <= set(ops)
    for name in ("CONV_2D", "FULLY_CONNECTED"):
        activation, weights = ops[name]["inputs"][:2]
        assert tensors[activation]["dtype"] == np.int8
        assert tensors[weights]["dtype"] == np.int8


def test_new_directory_gets_labels_and_metadata(qat_result, student, tmp_path):
    from kdkeras.optimize import save_qat_for_device

    directory = tmp_path / "package"
    save_qat_for_device(qat_result, directory, LABELS)

    assert _files(directory) == ["labels.txt", "metadata.json", "model_qat_int8.tflite"]
    assert (directory / "labels.txt").read_text(encoding="utf-8").split("\n")[
        :-1
    ] == LABELS
    metadata = load_device_metadata(directory)["qat_int8"]
    assert metadata.preprocessing == kdkeras.export.describe_preprocessing(student)
    assert metadata.quantization == "int8"


def test_check_data_gives_agreement_and_int8_accuracy(qat_result, data, tmp_path):
    from kdkeras.optimize import save_qat_for_device

    x_test, y_test = data[1]
    saved = save_qat_for_device(
        qat_result, tmp_path, LABELS, check_data=(x_test, y_test)
    )
    check = saved["check"]
    assert check["num_examples"] == len(x_test)
    assert check["top1_agreement"] >= 0.9
    assert (
        check["accuracy"] == evaluate_model(saved["tflite"], x_test, y_test)["accuracy"]
    )
    keras_accuracy = np.mean(
        qat_result.keras_model.predict(x_test, verbose=0).argmax(-1) == y_test
    )
    assert abs(check["accuracy"] - keras_accuracy) <= 0.1


def test_integer_io(qat_result, data, tmp_path):
    from kdkeras.optimize import save_qat_for_device

    with pytest.raises(ValueError, match="representative_data"):
        save_qat_for_device(qat_result, tmp_path, LABELS, integer_io=True)
    assert _files(tmp_path) == []

    x_test, y_test = data[1]
    saved = save_qat_for_device(
        qat_result,
        tmp_path,
        LABELS,
        integer_io=True,
        representative_data=data[0][0],
        check_data=(x_test, y_test),
    )
    metadata = load_device_metadata(tmp_path)["qat_int8"]
    assert metadata.input_dtype == "int8" and metadata.output_dtype == "int8"
    assert metadata.input_scale > 0 and metadata.output_scale > 0
    assert saved["check"]["top1_agreement"] >= 0.9


@pytest.mark.slow
def test_qat_files_end_in_a_softmax_carry_the_card_and_run_in_mediapipe(
    qat_result, data, tmp_path, mediapipe_check
):
    from kdkeras.export.embedded_metadata import read_metadata
    from kdkeras.optimize import save_qat_for_device

    (x_train, _), (x_test, _) = data
    card = {"name": "qat-student", "author": "kdkeras tests", "license": "MIT"}
    saved = save_qat_for_device(
        qat_result, tmp_path, LABELS, representative_data=x_train, model_info=card
    )
    assert _files(tmp_path) == [
        "labels.txt",
        "metadata.json",
        "model_qat_int8.tflite",
        "model_qat_int8_rgb.tflite",
    ]
    entry = json.loads((tmp_path / "metadata.json").read_text())["variants"]["qat_int8"]
    assert entry["output_kind"] == "probabilities"
    assert entry["mediapipe"]["file"] == "model_qat_int8_rgb.tflite"
    keras_top1 = qat_result.keras_model.predict(x_test, verbose=0).argmax(-1)
    gray = LiteRTModel(saved["tflite"]).predict(x_test, verbose=0)
    rgb_path = tmp_path / "model_qat_int8_rgb.tflite"
    rgb = LiteRTModel(rgb_path).predict(np.repeat(x_test, 3, axis=-1), verbose=0)
    for probabilities in (gray, rgb):
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=0.02)
        assert np.mean(probabilities.argmax(-1) == keras_top1) >= 0.9
    assert np.mean(rgb.argmax(-1) == gray.argmax(-1)) >= 0.95
    for path in (saved["tflite"], rgb_path):
        description, files = read_metadata(path)
        assert {key: description[key] for key in card} == card
        assert files["labels.txt"].decode("utf-8").split("\n")[:-1] == LABELS
    images = np.repeat(x_test, 3, axis=-1).astype(np.uint8)
    mediapipe_check(rgb_path, images, LABELS)


def test_without_calibration_data_the_rgb_file_is_left_out_and_said(
    qat_result, tmp_path
):
    from kdkeras.optimize import save_qat_for_device

    save_qat_for_device(qat_result, tmp_path, LABELS)
    assert not (tmp_path / "model_qat_int8_rgb.tflite").exists()
    entry = json.loads((tmp_path / "metadata.json").read_text())["variants"]["qat_int8"]
    assert entry["output_kind"] == "probabilities"
    assert entry["mediapipe"]["file"] is None
    assert "representative_data" in entry["mediapipe"]["reason"]


def test_failing_conversion_leaves_nothing(qat_result, student, tmp_path, monkeypatch):
    from kdkeras.export import converter_errors
    from kdkeras.optimize import save_qat_for_device

    kdkeras.export.save_for_device(
        student, tmp_path, LABELS, quantizations=("float32",)
    )
    files = _files(tmp_path)
    metadata = (tmp_path / "metadata.json").read_text(encoding="utf-8")

    def fail(path, model):
        assert os.path.getsize(path) > 0  # The flatbuffer was written.
        raise ExportError("an op stays in float")

    monkeypatch.setattr(converter_errors, "check_fully_quantized", fail)
    with pytest.raises(ExportError, match="stays in float"):
        save_qat_for_device(qat_result, tmp_path, LABELS)
    assert _files(tmp_path) == files
    assert (tmp_path / "metadata.json").read_text(encoding="utf-8") == metadata


def test_existing_file_needs_overwrite(qat_result, tmp_path):
    from kdkeras.optimize import save_qat_for_device

    save_qat_for_device(qat_result, tmp_path, LABELS)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_qat_for_device(qat_result, tmp_path, LABELS)
    save_qat_for_device(qat_result, tmp_path, LABELS, overwrite=True)
    assert set(load_device_metadata(tmp_path)) == {"qat_int8"}


def test_labels_must_match_the_package(qat_result, tmp_path):
    from kdkeras.optimize import save_qat_for_device

    save_qat_for_device(qat_result, tmp_path, LABELS)
    os.remove(tmp_path / "model_qat_int8.tflite")
    renamed = [label.upper() for label in LABELS]
    with pytest.raises(ValueError, match="`labels` must match"):
        save_qat_for_device(qat_result, tmp_path, renamed)
    with pytest.raises(ValueError, match="one name per model output"):
        save_qat_for_device(qat_result, tmp_path, LABELS[:3])
    assert _files(tmp_path) == ["labels.txt", "metadata.json"]


def test_refuses_what_is_not_a_qat_result(student, tmp_path):
    from kdkeras.optimize import save_qat_for_device

    with pytest.raises(TypeError, match="`qat_result` must be the `QATResult`"):
        save_qat_for_device(student, tmp_path, LABELS)
