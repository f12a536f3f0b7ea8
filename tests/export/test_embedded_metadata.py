"""Tests of the TFLite metadata inside `.tflite` files: written, read back by
kdkeras and by MediaPipe's own schema classes, and checked before the file
takes its name."""

import zipfile

import numpy as np
import pytest

from kdkeras.export import (
    ExportError,
    device_description,
    embedded_metadata,
    export_litert,
    tflite_metadata,
)
from kdkeras.layers import ImageView

LABELS = list("abcdefghij")


def _description(tiny_model, channels=1, **preprocessing):
    model = tiny_model()
    preprocessing = preprocessing or {"pixel_range": [0, 255]}
    info = device_description.model_info(
        model, LABELS, {"author": "Ada", "license": "MIT", "version": "2.1"}
    )
    return device_description.describe_file(
        info, channels, preprocessing, "probabilities"
    )


@pytest.fixture
def tflite_file(tiny_model, tmp_path):
    model = device_description.device_model(tiny_model())
    return export_litert(model, tmp_path / "model.tflite"), model


def test_the_description_round_trips_through_the_flatbuffer(tiny_model):
    description = _description(tiny_model, channels=3)
    buffer = tflite_metadata.build_metadata(description)
    assert buffer[4:8] == b"M001"
    assert tflite_metadata.parse_metadata(buffer) == description
    assert description["input"]["normalization"] == {
        "mean": [0.0] * 3,
        "std": [1.0] * 3,
    }


def test_mediapipe_schema_classes_read_what_kdkeras_writes(tiny_model):
    schema = pytest.importorskip(
        "mediapipe.tasks.metadata.metadata_schema_py_generated"
    )
    description = _description(tiny_model, channels=3)
    buffer = tflite_metadata.build_metadata(description)
    read = schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAs(buffer, 0))
    assert schema.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0)
    assert (read.name, read.author, read.license, read.version) == (
        b"student",
        b"Ada",
        b"MIT",
        b"2.1",
    )
    (subgraph,) = read.subgraphMetadata
    (model_input,) = subgraph.inputTensorMetadata
    properties = model_input.content.contentProperties
    assert properties.colorSpace == schema.ColorSpaceType.RGB
    (unit,) = model_input.processUnits
    assert unit.optionsType == schema.ProcessUnitOptions.NormalizationOptions
    np.testing.assert_array_equal(unit.options.std, [1.0, 1.0, 1.0])
    (output,) = subgraph.outputTensorMetadata
    (labels,) = output.associatedFiles
    assert (labels.name, labels.type) == (
        b"labels.txt",
        schema.AssociatedFileType.TENSOR_AXIS_LABELS,
    )


def test_write_metadata_round_trip(tflite_file, tiny_model, pixels):
    path, model = tflite_file
    description = _description(tiny_model)
    files = {"labels.txt": "".join(f"{x}\n" for x in LABELS).encode()}
    embedded_metadata.write_metadata(path, description, files, pixels[:8], model)

    assert embedded_metadata.read_metadata(path) == (description, files)
    with zipfile.ZipFile(path) as archive:  # A zip too, as MediaPipe reads it.
        assert archive.read("labels.txt") == files["labels.txt"]
    # Written again, the metadata is replaced, not added.
    description["author"] = "Grace"
    embedded_metadata.write_metadata(path, description, files)
    assert embedded_metadata.read_metadata(path) == (description, files)


def test_a_file_that_reads_back_differently_is_not_kept(
    tflite_file, tiny_model, monkeypatch
):
    path, _ = tflite_file
    before = open(path, "rb").read()
    description = _description(tiny_model)
    wrong = {**description, "name": "other"}
    monkeypatch.setattr(
        embedded_metadata.tflite_metadata, "parse_metadata", lambda _: wrong
    )
    with pytest.raises(ExportError, match="differs from what was written"):
        embedded_metadata.write_metadata(path, description, {"labels.txt": b"a\n"})
    assert open(path, "rb").read() == before


def test_normalization_follows_the_pixel_range():
    unit = device_description.input_normalization({"pixel_range": [0, 1]}, 1)
    assert unit == {"mean": [0.0], "std": [255.0]}
    centred = device_description.input_normalization({"pixel_range": [-1, 1]}, 3)
    assert centred == {"mean": [127.5] * 3, "std": [127.5] * 3}
    assert device_description.input_normalization({"pixel_range": None}, 3) is None


def test_image_view_models_take_pixels(tiny_model):
    import keras

    inputs = keras.Input((28, 28, 3))
    outputs = tiny_model()(ImageView(channels=1, preprocessing=None)(inputs))
    model = keras.Model(inputs, outputs)
    from kdkeras.export import describe_preprocessing

    assert describe_preprocessing(model)["pixel_range"] == [0, 255]


def test_model_info_names_the_argument(tiny_model):
    with pytest.raises(ValueError, match="`model_info` must map"):
        device_description.model_info(tiny_model(), LABELS, {"licence": "MIT"})
