"""Tests of `kdkeras.export.metadata`: tensor details, preprocessing, JSON."""

import os

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import kdkeras
from kdkeras.export import (
    ModelMetadata,
    Quantization,
    describe_preprocessing,
    export_litert,
    read_input_quantization,
    read_io_details,
)
from kdkeras.export.metadata import output_kind_of


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return kdkeras.models.build_cnn(filters=(4,), dense_units=None)


@pytest.fixture(scope="module")
def tflite_files(model, tmp_path_factory):
    directory = tmp_path_factory.mktemp("metadata")
    pixels = np.random.default_rng(0).integers(0, 256, (50, 28, 28, 1), "uint8")
    return {
        "float32": export_litert(model, directory / "float32.tflite"),
        "int8": export_litert(
            model,
            directory / "int8.tflite",
            quantization=Quantization("int8", integer_io=True),
            representative_data=pixels,
        ),
    }


def make_metadata(**overrides):
    fields = dict(
        labels=("T-shirt/top", "Trouser", "Éclair"),
        input_shape=(1, 28, 28, 1),
        input_dtype="int8",
        input_scale=0.003921568859368563,
        input_zero_point=-128,
        output_kind="logits",
        preprocessing={"resize": (28, 28), "color": "grayscale"},
        quantization="int8",
        output_shape=(1, 3),
        output_dtype="int8",
        output_scale=0.1,
        output_zero_point=5,
    )
    return ModelMetadata(**{**fields, **overrides})


def test_float_input_has_no_quantization(tflite_files):
    details = read_io_details(tflite_files["float32"])
    assert details == {
        "input_shape": [1, 28, 28, 1],
        "input_dtype": "float32",
        "input_scale": None,
        "input_zero_point": 0,
        "output_shape": [1, 10],
        "output_dtype": "float32",
        "output_scale": None,
        "output_zero_point": 0,
    }
    assert read_input_quantization(tflite_files["float32"]) == (None, 0)


def test_int8_input_quantization_matches_interpreter(tflite_files):
    scale, zero_point = read_input_quantization(tflite_files["int8"])
    (expected,) = Interpreter(model_path=tflite_files["int8"]).get_input_details()
    assert (scale, zero_point) == pytest.approx(expected["quantization"])
    # Calibrated on pixels in [0, 255]: 256 int8 steps of one grey level each.
    assert scale == pytest.approx(1.0)
    assert zero_point == -128
    assert read_io_details(tflite_files["int8"])["output_dtype"] == "int8"


def test_from_tflite_reads_details_and_keeps_fields(model, tflite_files):
    metadata = ModelMetadata.from_tflite(
        tflite_files["int8"],
        labels=[str(i) for i in range(10)],
        output_kind=output_kind_of(model),
        preprocessing=describe_preprocessing(model),
        quantization="int8",
    )
    assert metadata.input_dtype == "int8"
    assert metadata.output_kind == "logits"
    assert metadata.kdkeras_version == kdkeras.__version__
    assert ModelMetadata.from_json(metadata.to_json()) == metadata


def test_json_round_trip_is_exact():
    metadata = make_metadata()
    assert metadata.labels == ["T-shirt/top", "Trouser", "Éclair"]
    assert metadata.preprocessing == {"resize": [28, 28], "color": "grayscale"}
    restored = ModelMetadata.from_json(metadata.to_json())
    assert restored == metadata
    assert restored.input_scale == 0.003921568859368563


def test_save_load_round_trip_and_atomic_write(tmp_path):
    path = tmp_path / "metadata.json"
    metadata = make_metadata()
    metadata.save(path)
    assert ModelMetadata.load(path) == metadata
    with pytest.raises(FileExistsError):
        make_metadata(labels=["a", "b", "c"]).save(path)
    assert ModelMetadata.load(path) == metadata
    make_metadata(labels=["a", "b", "c"]).save(path, overwrite=True)
    assert ModelMetadata.load(path).labels == ["a", "b", "c"]
    assert os.listdir(tmp_path) == ["metadata.json"]


def test_output_kind_is_checked():
    with pytest.raises(ValueError, match="Received: output_kind='softmax'"):
        make_metadata(output_kind="softmax")


def test_describe_preprocessing_of_a_rescaling_cnn(model):
    preprocessing = describe_preprocessing(model)
    assert preprocessing["resize"] == [28, 28]
    assert preprocessing["color"] == "grayscale"
    assert preprocessing["pixel_range"] == [0, 255]
    assert preprocessing["scale"] == (
        "pixels in [0, 255] as float32; the model rescales"
    )
    assert "28x28" in preprocessing["description"]


def test_describe_preprocessing_without_rescaling():
    model = kdkeras.models.build_cnn(
        input_shape=(32, 32, 3), filters=(4,), dense_units=None, rescale=False
    )
    preprocessing = describe_preprocessing(model)
    assert preprocessing["color"] == "rgb"
    assert preprocessing["pixel_range"] is None


def test_output_kind_of_softmax_model():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]
    )
    assert output_kind_of(model) == "probabilities"
