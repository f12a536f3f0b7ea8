"""The exported students, run by MediaPipe Tasks' `ImageClassifier` from the
file path, unchanged, on plain uint8 images: the client apps use."""

import numpy as np
import pytest

from kdkeras.datasets.embedded import FASHION_MNIST_CLASS_NAMES
from kdkeras.export import device_description, save_for_device
from kdkeras.litert.litert_model import LiteRTModel

mp = pytest.importorskip("mediapipe")
vision = pytest.importorskip("mediapipe.tasks.python.vision")
base_options = pytest.importorskip("mediapipe.tasks.python.core.base_options")

MIN_AGREEMENT = 0.995


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


def _mediapipe_top1(path, images):
    """MediaPipe's top category (index, name) of each uint8 image, and the
    category names it reports."""
    options = vision.ImageClassifierOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(path)),
        max_results=-1,
    )
    classifier = vision.ImageClassifier.create_from_options(options)
    try:
        top1, names = [], set()
        for image in images:
            result = classifier.classify(
                mp.Image(image_format=mp.ImageFormat.SRGB, data=image)
            )
            categories = result.classifications[0].categories
            names.update(category.category_name for category in categories)
            top1.append(categories[0].index)
            scores = [category.score for category in categories]
            assert 0.0 <= min(scores) and max(scores) <= 1.0
    finally:
        classifier.close()  # Its __del__ raises at interpreter exit.
    return np.array(top1), names


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["float16", "int8"])
def test_mediapipe_image_classifier_runs_the_package(package, fashion, scheme):
    _, (x_test, _) = fashion
    path = package["mediapipe"][scheme]
    assert path.endswith(f"model_{scheme}_rgb.tflite")  # The student is grayscale.
    # Plain uint8 RGB images at their stored size, as an app has them.
    images = np.ascontiguousarray(np.repeat(x_test, 3, axis=-1).astype(np.uint8))

    top1, names = _mediapipe_top1(path, images)
    own = LiteRTModel(path).predict(images.astype("float32"), verbose=0).argmax(-1)

    agreement = float((top1 == own).mean())
    print(f"{scheme}: MediaPipe top-1 agreement with kdkeras' LiteRT {agreement:.4f}")
    assert names == set(FASHION_MNIST_CLASS_NAMES)
    assert len(set(own.tolist())) >= 5  # A trained student, not one class.
    assert agreement >= MIN_AGREEMENT


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
