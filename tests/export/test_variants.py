"""Tests of `kdkeras.export.add_variant`: one more `.tflite` file in a device
package, the others kept."""

import json
import os

import numpy as np
import pytest

import kdkeras
from kdkeras.datasets.embedded import FASHION_MNIST_CLASS_NAMES
from kdkeras.export import (
    Quantization,
    add_variant,
    load_device_metadata,
    save_for_device,
)


def _files(directory):
    """File name → contents of every file in `directory`."""
    return {name: (directory / name).read_bytes() for name in os.listdir(directory)}


def test_add_variant_keeps_the_other_variants(
    pixels, tiny_model, assert_int8_variant_added, tmp_path
):
    model = tiny_model()
    labels = list(FASHION_MNIST_CLASS_NAMES)
    save_for_device(model, tmp_path, labels, quantizations=("float32",))
    before = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))

    saved = add_variant(
        model,
        tmp_path,
        labels,
        "int8_io",
        quantization=Quantization("int8", integer_io=True),
        representative_data=pixels,
    )

    loaded = assert_int8_variant_added(tmp_path, before, saved, labels, "int8_io")
    assert saved["tflite"] == os.path.join(tmp_path, "model_int8_io.tflite")
    assert saved["check"] is None
    assert set(loaded) == {"float32", "int8_io"}
    assert loaded["int8_io"].input_dtype == "int8"


def test_add_variant_to_a_new_directory_and_check_data(pixels, tiny_model, tmp_path):
    model = tiny_model()
    directory = tmp_path / "package"
    x = pixels[:32]
    y = model.predict(x, verbose=0).argmax(-1)
    assert len(set(y)) >= 4  # an agreement of 0.9 is not one class's share

    saved = add_variant(
        model,
        directory,
        list("abcdefghij"),
        "small",
        quantization="dynamic_range",
        check_data=(x, y),
    )

    assert sorted(os.listdir(directory)) == [
        "labels.txt",
        "metadata.json",
        "model_small.tflite",
        "model_small_rgb.tflite",  # For MediaPipe: the model is grayscale.
    ]
    assert (directory / "labels.txt").read_text().split() == list("abcdefghij")
    (metadata,) = load_device_metadata(directory).values()
    assert metadata.quantization == "dynamic_range"
    assert metadata.preprocessing == kdkeras.export.describe_preprocessing(model)
    assert saved["check"]["num_examples"] == 32
    assert saved["check"]["top1_agreement"] >= 0.9
    assert saved["check"]["accuracy"] == saved["check"]["top1_agreement"]
    # Compared like with like: the file's probabilities with the model's
    # softmax, not with its logits.
    assert saved["check"]["max_abs_keras_output"] <= 1.0
    assert saved["check"]["max_abs_diff"] < 0.1


def test_add_variant_refuses_other_labels_and_writes_nothing(tiny_model, tmp_path):
    model = tiny_model()
    save_for_device(model, tmp_path, list("abcdefghij"), quantizations="float32")
    before = _files(tmp_path)

    with pytest.raises(ValueError, match="`labels` must match"):
        add_variant(
            model, tmp_path, list("klmnopqrst"), "small", quantization="float16"
        )
    with pytest.raises(ValueError, match="one name per model output"):
        add_variant(model, tmp_path, list("abc"), "small", quantization="float16")
    with pytest.raises(ValueError, match="`preprocessing` must match"):
        add_variant(
            model,
            tmp_path,
            list("abcdefghij"),
            "small",
            quantization="float16",
            preprocessing={"resize": [32, 32]},
        )
    assert _files(tmp_path) == before


def test_add_variant_writes_nothing_when_the_int8_check_fails(siren, tmp_path):
    save_for_device(siren, tmp_path, ["a", "b", "c"], quantizations="float32")
    before = _files(tmp_path)

    data = np.random.default_rng(0).random((20, 16), dtype="float32")
    with pytest.raises(kdkeras.export.ExportError, match="SIN"):
        add_variant(siren, tmp_path, ["a", "b", "c"], "int8", representative_data=data)
    assert _files(tmp_path) == before


def test_add_variant_needs_overwrite_to_replace(tiny_model, tmp_path):
    model = tiny_model()
    labels = list("abcdefghij")
    add_variant(model, tmp_path, labels, "small", quantization="float16")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        add_variant(model, tmp_path, labels, "small", quantization="float16")
    add_variant(
        model, tmp_path, labels, "small", quantization="dynamic_range", overwrite=True
    )
    assert load_device_metadata(tmp_path)["small"].quantization == "dynamic_range"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "qat int8"}, "`variant` must be a name of letters"),
        ({"quantization": "int4"}, "Received: quantization='int4'"),
        ({"quantization": "int8"}, "`representative_data` is required"),
        (
            {"quantization": Quantization("int8", integer_io=True)},
            "`representative_data` is required with `integer_io=True`",
        ),
    ],
)
def test_add_variant_bad_arguments_write_nothing(kwargs, message, tiny_model, tmp_path):
    kwargs = {"variant": "small", **kwargs}
    with pytest.raises(ValueError) as info:
        add_variant(tiny_model(), tmp_path / "out", list("abcdefghij"), **kwargs)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_add_variant_verbose_prints_the_conversion_and_the_check(
    pixels, tiny_model, assert_lines_match, tmp_path, capsys
):
    model = tiny_model()
    x = pixels[:32]
    y = model.predict(x, verbose=0).argmax(-1)
    arguments = dict(quantization="dynamic_range", check_data=(x, y))
    add_variant(model, tmp_path / "quiet", list("abcdefghij"), "small", **arguments)
    assert capsys.readouterr().out == ""  # Quiet by default.
    add_variant(model, tmp_path, list("abcdefghij"), "small", verbose=2, **arguments)
    lines = capsys.readouterr().out.splitlines()
    patterns = [
        r"small: converting …",
        r"small: converted in [\d.]+ s, [\d.]+ KB; checked against Keras on 8 "
        r"inputs: .*",
        r"small RGB input: converting …",
        r"small RGB input: converted in [\d.]+ s, [\d.]+ KB; checked against "
        r"Keras on 8 inputs: .*",
        r"small: checked on 32 examples: top-1 agreement [\d.]+, accuracy [\d.]+ "
        r"\([\d.]+ s\)",
    ]
    assert_lines_match(lines, patterns)
