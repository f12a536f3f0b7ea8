"""Tests of `kdkeras.export.add_variant`: one more `.tflite` file in a device
package, the others kept."""

import json
import os
import re

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.datasets.embedded import FASHION_MNIST_CLASS_NAMES
from kdkeras.export import (
    ModelMetadata,
    add_variant,
    load_device_metadata,
    save_for_device,
)


@pytest.fixture(scope="module")
def pixels():
    (x_train, _), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    return x_train[:100, ..., None]


def tiny_model():
    keras.utils.set_random_seed(0)
    return kdkeras.models.build_cnn(filters=(4,), dense_units=None, name="student")


def _metadata_json(directory):
    return json.loads((directory / "metadata.json").read_text(encoding="utf-8"))


def test_add_variant_keeps_the_other_variants(pixels, tmp_path):
    model = tiny_model()
    labels = list(FASHION_MNIST_CLASS_NAMES)
    save_for_device(model, tmp_path, labels, quantizations=("float32",))
    before = _metadata_json(tmp_path)

    saved = add_variant(
        model,
        tmp_path,
        labels,
        "int8_io",
        representative_data=pixels,
        integer_io=True,
    )

    after = _metadata_json(tmp_path)
    assert saved["tflite"] == os.path.join(tmp_path, "model_int8_io.tflite")
    assert saved["check"] is None
    assert after["variants"]["float32"] == before["variants"]["float32"]
    assert {k: v for k, v in after.items() if k != "variants"} == {
        k: v for k, v in before.items() if k != "variants"
    }
    loaded = load_device_metadata(tmp_path)
    assert set(loaded) == {"float32", "int8_io"}
    assert loaded["int8_io"] == ModelMetadata.from_tflite(
        saved["tflite"],
        labels=labels,
        output_kind="logits",
        preprocessing=before["preprocessing"],
        quantization="int8",
    )
    assert loaded["int8_io"].input_dtype == "int8"
    assert after["variants"]["int8_io"]["file"] == "model_int8_io.tflite"


def test_add_variant_to_a_new_directory_and_check_data(pixels, tmp_path):
    model = tiny_model()
    directory = tmp_path / "package"
    x = pixels[:32]
    y = model.predict(x, verbose=0).argmax(-1)

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
    ]
    assert (directory / "labels.txt").read_text().split() == list("abcdefghij")
    (metadata,) = load_device_metadata(directory).values()
    assert metadata.quantization == "dynamic_range"
    assert metadata.preprocessing == kdkeras.export.describe_preprocessing(model)
    assert saved["check"]["num_examples"] == 32
    assert saved["check"]["top1_agreement"] >= 0.9
    assert saved["check"]["accuracy"] == saved["check"]["top1_agreement"]


def test_add_variant_refuses_other_labels_and_writes_nothing(tmp_path):
    model = tiny_model()
    save_for_device(model, tmp_path, list("abcdefghij"), quantizations="float32")
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

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
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == (
        before
    )


class Sine(keras.layers.Layer):
    def call(self, inputs):
        return keras.ops.sin(inputs)


def test_add_variant_writes_nothing_when_the_int8_check_fails(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16,))
    hidden = Sine(name="sine")(keras.layers.Dense(8)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden), name="siren")
    save_for_device(model, tmp_path, ["a", "b", "c"], quantizations="float32")
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    data = np.random.default_rng(0).random((20, 16), dtype="float32")
    with pytest.raises(kdkeras.export.ExportError, match="SIN"):
        add_variant(model, tmp_path, ["a", "b", "c"], "int8", representative_data=data)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == (
        before
    )


def test_add_variant_needs_overwrite_to_replace(tmp_path):
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
            {"quantization": "float16", "quantization_aware": True},
            "`quantization_aware=True` requires quantization='int8'",
        ),
    ],
)
def test_add_variant_bad_arguments_write_nothing(kwargs, message, tmp_path):
    kwargs = {"variant": "small", **kwargs}
    with pytest.raises(ValueError) as info:
        add_variant(tiny_model(), tmp_path / "out", list("abcdefghij"), **kwargs)
    assert message in str(info.value)
    assert not (tmp_path / "out").exists()


def test_add_variant_verbose_prints_the_conversion_and_the_check(
    pixels, tmp_path, capsys
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
        r"small: checked on 32 examples: top-1 agreement [\d.]+, accuracy [\d.]+ "
        r"\([\d.]+ s\)",
    ]
    assert len(lines) == len(patterns)
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), line
