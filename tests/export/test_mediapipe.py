"""The exported students, run by MediaPipe Tasks' `ImageClassifier` from the
file path, unchanged, on plain uint8 images: the client apps use (the
`mediapipe_check` fixture skips without `mediapipe`); and the model card
MediaPipe shows, from `kdkeras export`'s options."""

import numpy as np
import pytest

from kdkeras.datasets.embedded import FASHION_MNIST_CLASS_NAMES
from kdkeras.export import device_description, save_for_device
from kdkeras.litert.litert_model import LiteRTModel


@pytest.fixture(scope="module")
def package(student, fashion, tmp_path_factory):
    (x_train, _), _ = fashion
    directory = tmp_path_factory.mktemp("mediapipe") / "package"
    paths = save_for_device(
        student,
        directory,
        FASHION_MNIST_CLASS_NAMES,
        representative_data=x_train[:200],
        quantizations=("float16", "int8"),
        model_info={"author": "kdkeras tests", "license": "Apache-2.0"},
    )
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["float16", "int8"])
def test_mediapipe_image_classifier_runs_the_package(
    package, fashion, scheme, mediapipe_check
):
    _, (x_test, _) = fashion
    path = package["mediapipe"][scheme]
    assert path.endswith(f"model_{scheme}_rgb.tflite")  # The student is grayscale.
    # Plain uint8 RGB images at their stored size, as an app has them.
    images = np.ascontiguousarray(np.repeat(x_test, 3, axis=-1).astype(np.uint8))

    # The category names are the class names; top-1 agreement >= 99.5 %.
    _, own = mediapipe_check(path, images, FASHION_MNIST_CLASS_NAMES)
    assert len(set(own.tolist())) >= 5  # A trained student, not one class.


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["float16", "int8"])
def test_the_rgb_file_answers_as_the_grayscale_student(
    package, student, fashion, scheme
):
    _, (x_test, _) = fashion
    gray = LiteRTModel(package["tflite"][scheme]).predict(x_test, verbose=0)
    rgb = LiteRTModel(package["mediapipe"][scheme]).predict(
        device_description.as_rgb(x_test), verbose=0
    )
    keras_probabilities = device_description.device_model(student).predict(
        x_test, verbose=0
    )
    assert (rgb.argmax(-1) == gray.argmax(-1)).mean() >= 0.99
    assert (rgb.argmax(-1) == keras_probabilities.argmax(-1)).mean() >= 0.97
    np.testing.assert_allclose(rgb.sum(-1), 1.0, atol=0.05)  # Probabilities.
    if scheme == "float16":
        np.testing.assert_allclose(rgb, gray, atol=1e-4)


def test_kdkeras_export_embeds_the_model_card_of_its_options(tiny_model, tmp_path):
    from click.testing import CliRunner

    from kdkeras.cli.main import cli
    from kdkeras.export.embedded_metadata import read_metadata

    model_path = tmp_path / "student.keras"
    tiny_model().save(model_path)
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(FASHION_MNIST_CLASS_NAMES) + "\n", encoding="utf-8")
    card = {
        "name": "fashion-student",
        "description": "Ten kinds of clothes.",
        "version": "1.2",
        "author": "Ada Lovelace",
        "license": "MIT",
    }
    options = [f"--{key}={value}" for key, value in card.items()]
    result = CliRunner().invoke(
        cli,
        ["export", str(model_path), "--output", str(tmp_path / "package")]
        + ["--labels", str(labels), "-q", "float16", *options],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    for file_name in ("model_float16.tflite", "model_float16_rgb.tflite"):
        description, files = read_metadata(tmp_path / "package" / file_name)
        assert {key: description[key] for key in card} == card
        assert files["labels.txt"].decode().split("\n")[:2] == [
            "T-shirt/top",
            "Trouser",
        ]
