"""Tests of `kdkeras.export.save_for_device`: the directory an app ships
(`add_variant`: test_variants.py)."""

import json
import os
import re

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.datasets.embedded import FASHION_MNIST_CLASS_NAMES
from kdkeras.export import (
    QUANTIZATIONS,
    ModelMetadata,
    Quantization,
    embedded_metadata,
    load_device_metadata,
    save_for_device,
)


def test_writes_the_whole_layout(pixels, tiny_model, tmp_path):
    model = tiny_model()
    directory = tmp_path / "saved_models" / "student"
    paths = save_for_device(
        model, directory, FASHION_MNIST_CLASS_NAMES, representative_data=pixels
    )
    # A grayscale student: each variant also has an RGB file, for MediaPipe.
    assert sorted(os.listdir(directory)) == sorted(
        ["model.keras", "labels.txt", "metadata.json"]
        + [f"model_{q}.tflite" for q in QUANTIZATIONS]
        + [f"model_{q}_rgb.tflite" for q in QUANTIZATIONS]
    )
    assert paths["keras"] == str(directory / "model.keras")
    assert set(paths["tflite"]) == set(QUANTIZATIONS)
    assert paths["mediapipe"] == {
        q: str(directory / f"model_{q}_rgb.tflite") for q in QUANTIZATIONS
    }

    labels = (directory / "labels.txt").read_text(encoding="utf-8").splitlines()
    assert labels == list(FASHION_MNIST_CLASS_NAMES)

    restored = keras.saving.load_model(paths["keras"])
    np.testing.assert_allclose(
        restored.predict(pixels[:8], verbose=0), model.predict(pixels[:8], verbose=0)
    )

    data = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    assert data["labels"] == list(FASHION_MNIST_CLASS_NAMES)
    assert "output_kind" not in data  # Per variant: see below.
    assert data["preprocessing"]["resize"] == [28, 28]
    assert data["kdkeras_version"] == kdkeras.__version__
    assert list(data["variants"]) == list(QUANTIZATIONS)
    assert data["variants"]["int8"]["file"] == "model_int8.tflite"
    assert data["variants"]["float32"]["input_scale"] is None
    int8 = data["variants"]["int8"]
    assert int8["output_kind"] == "probabilities"  # A softmax ends each file.
    assert int8["input_color"] == "grayscale"
    assert int8["embedded_metadata"]["input"]["color_space"] == "GRAYSCALE"
    assert int8["mediapipe"]["file"] == "model_int8_rgb.tflite"
    assert int8["mediapipe"]["input_color"] == "rgb"
    assert int8["mediapipe"]["input_shape"] == [1, 28, 28, 3]
    rgb_input = int8["mediapipe"]["embedded_metadata"]["input"]
    assert rgb_input["color_space"] == "RGB"
    assert rgb_input["normalization"] == {"mean": [0.0] * 3, "std": [1.0] * 3}
    # The embedded metadata and metadata.json's come from one description.
    for quantization, path in paths["mediapipe"].items():
        embedded, files = embedded_metadata.read_metadata(path)
        assert (
            embedded == data["variants"][quantization]["mediapipe"]["embedded_metadata"]
        )
        assert files == {"labels.txt": (directory / "labels.txt").read_bytes()}

    per_variant = load_device_metadata(directory)
    for quantization, path in paths["tflite"].items():
        assert per_variant[quantization] == ModelMetadata.from_tflite(
            path,
            labels=FASHION_MNIST_CLASS_NAMES,
            output_kind="probabilities",
            preprocessing=data["preprocessing"],
            quantization=quantization,
        )


def test_integer_io_and_custom_preprocessing(pixels, tiny_model, tmp_path):
    preprocessing = {"resize": [28, 28], "invert": True}
    save_for_device(
        tiny_model(),
        tmp_path,
        FASHION_MNIST_CLASS_NAMES,
        representative_data=pixels,
        quantizations=Quantization("int8", integer_io=True),
        preprocessing=preprocessing,
    )
    (metadata,) = load_device_metadata(tmp_path).values()
    assert metadata.input_dtype == "int8"
    assert metadata.input_scale is not None
    assert metadata.preprocessing == preprocessing


def test_existing_files_are_kept_unless_overwrite(tiny_model, tmp_path):
    save_for_device(tiny_model(), tmp_path, list("abcdefghij"), quantizations="float32")
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_for_device(
            tiny_model(), tmp_path, list("klmnopqrst"), quantizations=("float32",)
        )
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    save_for_device(
        tiny_model(),
        tmp_path,
        list("klmnopqrst"),
        quantizations=("float32",),
        overwrite=True,
    )
    assert (tmp_path / "labels.txt").read_text().split() == list("klmnopqrst")
    assert sorted(os.listdir(tmp_path)) == sorted(before)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"labels": ["a", "b"], "quantizations": ("float32",)},
            "`labels` must have one name per model output (10)",
        ),
        ({"quantizations": ("int4",)}, "Received: quantizations=('int4',)"),
        ({"quantizations": ()}, "`quantizations` must be distinct schemes"),
        (
            {"quantizations": ("int8", Quantization("int8", integer_io=True))},
            "`quantizations` must be distinct schemes",
        ),
        (
            {"quantizations": ("int8",)},
            "`representative_data` is required for quantization='int8'",
        ),
    ],
)
def test_bad_arguments_write_nothing(kwargs, message, tiny_model, tmp_path):
    kwargs = {"labels": list("abcdefghij"), **kwargs}
    with pytest.raises(ValueError) as info:
        save_for_device(tiny_model(), tmp_path / "out", **kwargs)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "bad, words",
    [
        ("a", "must name each class once"),  # "a" twice
        ("", "expected a non-empty class name"),
        (" ", "expected a non-empty class name"),
        ("x\ny", "without control characters"),
        ("x\ty", "without control characters"),
        ("../x", "not a path"),
        ("/x", "not a path"),
        ("x\\y", "without a backslash"),
    ],
    ids=["repeated", "empty", "space", "newline", "tab", "dot-dot", "absolute", "bs"],
)
def test_labels_that_are_not_class_names_write_nothing(
    bad, words, tiny_model, tmp_path
):
    """Each label is a line of labels.txt and a name in the metadata: checked
    as a class name (`kdkeras.validation.labels`) before anything is written."""
    labels = ["a", bad, *"cdefghij"]
    with pytest.raises(ValueError, match="`labels`") as info:
        save_for_device(tiny_model(), tmp_path / "out", labels, quantizations="float32")
    assert words in str(info.value)
    assert not (tmp_path / "out").exists()


def test_verbose_prints_each_variant_and_a_summary(
    pixels, tiny_model, assert_lines_match, tmp_path, capsys
):
    arguments = dict(
        labels=FASHION_MNIST_CLASS_NAMES,
        representative_data=pixels[:20],
        quantizations=("float16", "int8"),
    )
    save_for_device(tiny_model(), tmp_path / "quiet", **arguments)
    assert capsys.readouterr().out == ""  # Quiet by default.
    directory = tmp_path / "student"
    save_for_device(tiny_model(), directory, verbose=2, **arguments)
    lines = capsys.readouterr().out.splitlines()
    check = r"checked against Keras on 8 inputs: top-1 agreement [\d.]+, max"
    patterns = [
        r"\[1/2\] float16: converting …",
        rf"\[1/2\] float16: converted in [\d.]+ s, [\d.]+ KB; {check}.*",
        # The grayscale student's RGB-input file, for MediaPipe.
        r"\[1/2\] float16 RGB input: converting …",
        rf"\[1/2\] float16 RGB input: converted in [\d.]+ s, [\d.]+ KB; {check}.*",
        r"\[2/2\] int8: calibrating on 20 examples …",
        rf"\[2/2\] int8: converted in [\d.]+ s, [\d.]+ KB; {check}.*",
        r"\[2/2\] int8 RGB input: calibrating on 20 examples …",
        rf"\[2/2\] int8 RGB input: converted in [\d.]+ s, [\d.]+ KB; {check}.*",
        rf"{re.escape(str(directory))}: model.keras, labels.txt, metadata.json "
        r"and 4 LiteRT files in [\d.]+ s",
    ]
    assert_lines_match(lines, patterns)
