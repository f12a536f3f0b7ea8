"""Shared fixtures: the 8×8 digits of scikit-learn, tiny models, a
briefly trained Fashion-MNIST student with its LiteRT files, and checks of
printed progress and of device packages."""

import importlib.util
import json
import os
import re
import sys

import keras
import pytest
import yaml
from sklearn.datasets import load_digits

from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.export import (
    ModelMetadata,
    Quantization,
    export_litert,
    load_device_metadata,
)
from kdkeras.models import build_cnn

# `import cli_helpers` (running `kdkeras` in-process, checking its
# refusals) from any test module: the tests are imported with
# --import-mode=importlib, which puts no test folder on `sys.path`.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cli_helpers import assert_refused, invoke  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "requires_data(available, reason): needs a real data set; skipped with "
        "`reason` when `available` is false, failed instead where CI=true",
    )


def missing_data(reason):
    """Skips the running test for want of a data set, saying why; in CI
    (`CI=true`, as CI runners set it) fails it instead, so that a failed
    download of `.ci/run` cannot pass as skipped tests."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: a missing data set fails)", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item):
    """Applies `@pytest.mark.requires_data(available, reason=...)`."""
    for marker in item.iter_markers("requires_data"):
        available = marker.kwargs.get(
            "available", marker.args[0] if marker.args else None
        )
        if not available:
            missing_data(marker.kwargs["reason"])


def full_fashion_mnist_found():
    """Whether `load_fashion_mnist()` finds the full data set without a
    download: the Debian package's folder or Keras's cache holds the files."""
    from kdkeras.datasets._local import find_idx_files

    directories = (
        "/usr/share/datasets/fashion-mnist",
        os.path.expanduser("~/.keras/datasets/fashion-mnist"),
    )
    return any(not find_idx_files(d)[1] for d in directories)


@pytest.fixture(scope="session")
def require_full_fashion_mnist():
    """Skips (fails where CI=true) a test that reads the full Fashion-MNIST
    (60,000 + 10,000 images) when `load_fashion_mnist()` would download it."""
    if not full_fashion_mnist_found():
        missing_data(
            "needs the full Fashion-MNIST: /usr/share/datasets/fashion-mnist "
            "(apt-get install dataset-fashion-mnist) or ~/.keras/datasets"
        )


def pytest_collection_modifyitems(config, items):
    """Skips `@pytest.mark.tensorflow` tests on another Keras backend."""
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason="needs the TensorFlow backend")
    for item in items:
        if "tensorflow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def digits():
    """`(x, y)`: 1,797 real 8×8 digit images in [0, 1] with a channel axis."""
    data = load_digits()
    x = (data.images[..., None] / 16.0).astype("float32")
    return x, data.target.astype("int32")


def _small_cnn(filters=8, batch_norm=True, activation=None, seed=0, name=None):
    """A tiny 8×8 classifier; `activation="softmax"` makes it output probabilities."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((8, 8, 1)), keras.layers.Conv2D(filters, 3, padding="same")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers += [
        keras.layers.ReLU(),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation=activation),
    ]
    return keras.Sequential(layers, name=name)


def _dense_model(units=10, inputs=4, seed=0, activation=None, name=None):
    """A single Dense layer, for hand-computed steps."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((inputs,)), keras.layers.Dense(units, activation=activation)],
        name=name,
    )


@pytest.fixture(scope="session")
def small_cnn():
    """A factory of tiny 8×8 classifiers (see `_small_cnn`)."""
    return _small_cnn


@pytest.fixture(scope="session")
def dense_model():
    """A factory of single-Dense-layer models (see `_dense_model`)."""
    return _dense_model


@pytest.fixture(scope="session")
def fashion():
    """`(x_train, y_train), (x_test, y_test)`: 3,000 and 500 uint8 images."""
    (x_train, y_train), (x_test, y_test) = load_embedded_fashion_mnist()
    return (x_train[:3000, ..., None], y_train[:3000]), (
        x_test[:500, ..., None],
        y_test[:500],
    )


@pytest.fixture(scope="session")
def student(fashion):
    """A small CNN trained for two epochs (about 83% test accuracy)."""
    (x_train, y_train), _ = fashion
    keras.utils.set_random_seed(0)
    model = build_cnn(filters=(8, 16), dense_units=32, pooling="flatten")
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def student_tflite_files(student, fashion, tmp_path_factory):
    """`(float32_path, int8_path)`; the int8 file has int8 input and output."""
    (x_train, _), _ = fashion
    directory = tmp_path_factory.mktemp("litert")
    float32_path = export_litert(student, directory / "student_float32.tflite")
    int8_path = export_litert(
        student,
        directory / "student_int8.tflite",
        quantization=Quantization("int8", integer_io=True),
        representative_data=x_train[:200],
    )
    return float32_path, int8_path


@pytest.fixture
def float32_tflite(student_tflite_files):
    return student_tflite_files[0]


@pytest.fixture
def int8_tflite(student_tflite_files):
    return student_tflite_files[1]


IMAGE_FOLDER_CLASSES = {"bag": 8, "sneaker": 7, "trouser": 1}
"""The classes of `image_folder`: folder name → Fashion-MNIST label."""


def write_image_folder(directory, images_per_class, offset=0):
    """Writes real Fashion-MNIST images as PNG files, one folder per class.

    Returns:
        The sorted class names (the folder names).
    """
    (x_train, y_train), _ = load_embedded_fashion_mnist()
    for class_name, label in IMAGE_FOLDER_CLASSES.items():
        class_dir = directory / class_name
        class_dir.mkdir(parents=True)
        images = x_train[y_train == label][offset : offset + images_per_class]
        for index, image in enumerate(images):
            keras.utils.save_img(
                class_dir / f"{index:03d}.png", image[..., None], scale=False
            )
    return sorted(IMAGE_FOLDER_CLASSES)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """A folder of 3 class sub-folders of 14 28×28 grayscale PNGs each (42)."""
    directory = tmp_path_factory.mktemp("images") / "train"
    write_image_folder(directory, images_per_class=14)
    return directory


def _image_folder_dataset(directory, shuffle=False, batch_size=8):
    return keras.utils.image_dataset_from_directory(
        directory,
        color_mode="grayscale",
        image_size=(28, 28),
        batch_size=batch_size,
        shuffle=shuffle,
        seed=0,
        verbose=False,
    )


@pytest.fixture(scope="session")
def folder_dataset():
    """`folder_dataset(directory, shuffle=False, batch_size=8)`: a folder of
    28×28 grayscale PNGs as `keras.utils.image_dataset_from_directory` batches
    of `(uint8-valued float32 images, class ids)`."""
    return _image_folder_dataset


@pytest.fixture(scope="session")
def tiny_teacher_path(tmp_path_factory):
    """A `.keras` file: an untrained 3-class CNN for `image_folder` runs."""
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("teacher") / "teacher.keras"
    build_cnn(num_classes=3, filters=(4,), dense_units=None, name="teacher").save(path)
    return str(path)


def _tiny_run_sections(data_path, teacher_path, output_dir=None, **sections):
    data = {
        "data": {
            "source": "image_folder",
            "path": str(data_path),
            "image_size": [28, 28],
            "color_mode": "grayscale",
            "validation_split": 0.2,
            "test_split": 0.2,
        },
        "teacher": {"path": str(teacher_path)},
        "student": {"filters": [4]},
        "scratch": {"epochs": 1, "batch_size": 8},
        "distill": {"epochs": 1, "batch_size": 8, "allow_weak_teacher": True},
        "export": {"quantizations": ["float16"]},
        "report": {"latency_runs": 0},
    }
    if output_dir is not None:
        data["run"] = {"name": "tiny", "output_dir": str(output_dir)}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


@pytest.fixture(scope="session")
def tiny_run_sections():
    """`tiny_run_sections(data_path, teacher_path, output_dir=None,
    **sections)`: the sections of a tiny `kdkeras run` config on an image
    folder (1 epoch per stage, float16 export, no latency runs), as a dict;
    each keyword updates that section."""
    return _tiny_run_sections


@pytest.fixture(scope="session")
def tiny_run_config(image_folder):
    """`tiny_run_config(teacher_path, output_dir, **sections)`: a validated
    `kdkeras run` config on `image_folder` (`tiny_run_sections`)."""
    from kdkeras.config import validate_config

    def make(teacher_path, output_dir, **sections):
        return validate_config(
            _tiny_run_sections(image_folder, teacher_path, output_dir, **sections)
        )

    return make


def _assert_lines_match(lines, patterns):
    assert len(lines) == len(patterns)
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), line


@pytest.fixture(scope="session")
def assert_lines_match():
    """`assert_lines_match(lines, patterns)`: one line per regular
    expression, each matching it whole."""
    return _assert_lines_match


def _assert_int8_variant_added(directory, before, saved, labels, variant):
    after = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
    for name, entry in before["variants"].items():
        assert after["variants"][name] == entry
    assert {k: v for k, v in after.items() if k != "variants"} == {
        k: v for k, v in before.items() if k != "variants"
    }
    assert after["variants"][variant]["file"] == os.path.basename(saved["tflite"])
    loaded = load_device_metadata(directory)
    assert loaded[variant] == ModelMetadata.from_tflite(
        saved["tflite"],
        labels=labels,
        output_kind="probabilities",  # A softmax ends every device file.
        preprocessing=before["preprocessing"],
        quantization="int8",
    )
    return loaded


@pytest.fixture(scope="session")
def assert_int8_variant_added():
    """`assert_int8_variant_added(directory, before, saved, labels, variant)`:
    after `add_variant` wrote the int8 `variant` (`saved`, its return value)
    into the package in `directory`, whose `metadata.json` was `before`:
    the other variants and keys are kept, the variant's entry names its file,
    and its metadata is that of the file. Returns `load_device_metadata`."""
    return _assert_int8_variant_added


def _load_script(path, name=None):
    """The Python file `path` (a benchmark, example or tool) as a module."""
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """`load_script(path, name=None)`: a script imported as a module."""
    return _load_script


@pytest.fixture
def tiny_saved_teacher(tmp_path):
    """A tiny `tools/teacher_models.py` VGG (filters 4, 8, 8), saved as a
    `tools/train_teacher.py` teacher is (weights and the JSON beside them):
    `(model, path)`."""
    tools = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"
    )
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import teacher_models  # the module the benchmarks and tools import

    model = teacher_models.build_teacher_vgg(stage_filters=(4, 8, 8))
    path = str(tmp_path / "tiny.weights.h5")
    model.save_weights(path)
    architecture = dict(
        builder="tools/teacher_models.py:build_teacher_vgg",
        stage_filters=[4, 8, 8],
        convs_per_stage=2,
        dropout=0.3,
        num_classes=10,
        flip_tta=False,
    )
    with open(path + ".json", "w") as file:
        json.dump({"architecture": architecture}, file)
    return model, path


def _classify_all(classifier, inputs, sums_to_one=False):
    """A MediaPipe Tasks classifier's top-1 class of each input and every
    category name it reported; asserts its scores are probabilities (that
    they sum to 1 too with `sums_to_one`). Closes the classifier."""
    try:
        top1, names = [], set()
        for one_input in inputs:
            categories = classifier.classify(one_input).classifications[0].categories
            names.update(category.category_name for category in categories)
            top1.append(categories[0].index)
            scores = [category.score for category in categories]
            assert 0.0 <= min(scores) and max(scores) <= 1.0
            if sums_to_one:
                assert abs(sum(scores) - 1.0) < 0.02
    finally:
        classifier.close()  # Its __del__ raises at interpreter exit.
    return top1, names


def _mediapipe_check(path, images, class_names, min_agreement=0.995):
    """Runs MediaPipe Tasks' `ImageClassifier` on `path` (unchanged, from the
    file path) over plain uint8 RGB `images`, and asserts that its category
    names are `class_names`, its scores probabilities, and its top-1 agrees
    with kdkeras' own LiteRT evaluation of the same file on at least
    `min_agreement` of the images. Returns the agreement and kdkeras' top-1
    class of each image."""
    import numpy as np

    mp = pytest.importorskip("mediapipe")
    vision = pytest.importorskip("mediapipe.tasks.python.vision")
    base_options = pytest.importorskip("mediapipe.tasks.python.core.base_options")
    from kdkeras.litert.litert_model import LiteRTModel

    images = np.ascontiguousarray(images, dtype=np.uint8)
    assert images.ndim == 4 and images.shape[-1] == 3, images.shape
    options = vision.ImageClassifierOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(path)),
        max_results=-1,
    )
    classifier = vision.ImageClassifier.create_from_options(options)
    top1, names = _classify_all(
        classifier,
        [mp.Image(image_format=mp.ImageFormat.SRGB, data=image) for image in images],
    )
    own = LiteRTModel(path).predict(images.astype("float32"), verbose=0).argmax(-1)
    agreement = float((np.array(top1) == own).mean())
    print(
        f"{os.path.basename(str(path))}: MediaPipe top-1 agreement with "
        f"kdkeras' LiteRT {agreement:.4f} on {len(images)} images"
    )
    assert names == set(class_names)
    assert agreement >= min_agreement
    return agreement, own


def _mediapipe_text_check(path, texts, class_names, tokenizer, min_agreement=0.995):
    """Runs MediaPipe Tasks' `TextClassifier` on `path` (unchanged, from the
    file path) over raw `texts`, and asserts that its category names are
    `class_names`, its scores probabilities, and its top-1 agrees with
    kdkeras' LiteRT evaluation of the file on `tokenizer(texts)` on at least
    `min_agreement` of the texts. Returns the agreement and kdkeras' top-1
    class of each text."""
    import numpy as np

    text = pytest.importorskip("mediapipe.tasks.python.text")
    base_options = pytest.importorskip("mediapipe.tasks.python.core.base_options")
    from kdkeras.litert.litert_model import LiteRTModel

    options = text.TextClassifierOptions(
        base_options=base_options.BaseOptions(model_asset_path=str(path)),
        max_results=-1,
    )
    classifier = text.TextClassifier.create_from_options(options)
    top1, names = _classify_all(classifier, texts, sums_to_one=True)
    own = LiteRTModel(path).predict(tokenizer(texts), verbose=0).argmax(-1)
    agreement = float((np.array(top1) == own).mean())
    print(
        f"{os.path.basename(str(path))}: MediaPipe top-1 agreement with "
        f"kdkeras' LiteRT {agreement:.4f} on {len(texts)} texts"
    )
    assert names == set(class_names)
    assert agreement >= min_agreement
    return agreement, own


def _mean_gradient(loss_fn, value):
    """d mean(loss_fn(value)) / d value, on the running backend."""
    import numpy as np

    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(lambda v: jnp.mean(loss_fn(v)))(jnp.asarray(value)))
    import tensorflow as tf

    variable = tf.Variable(value)
    with tf.GradientTape() as tape:
        mean = tf.reduce_mean(loss_fn(variable))
    return tape.gradient(mean, variable).numpy()


@pytest.fixture(scope="session")
def mean_gradient():
    """`mean_gradient(loss_fn, value)`: the gradient of `mean(loss_fn(value))`
    with respect to `value` (a NumPy array), on the running backend."""
    return _mean_gradient


@pytest.fixture(scope="session")
def mediapipe_text_check():
    """`mediapipe_text_check(path, texts, class_names, tokenizer,
    min_agreement=0.995)`: MediaPipe Tasks' `TextClassifier` runs the
    `.tflite` at `path` on raw `texts`, reports `class_names` and agrees with
    kdkeras' LiteRT evaluation of the file (skipped without `mediapipe`):
    `(agreement, top-1 classes of kdkeras' LiteRT evaluation)`."""
    pytest.importorskip("mediapipe.tasks.python.text")
    return _mediapipe_text_check


@pytest.fixture(scope="session")
def mediapipe_check():
    """`mediapipe_check(path, images, class_names, min_agreement=0.995)`:
    MediaPipe Tasks' `ImageClassifier` runs the `.tflite` at `path` on uint8
    RGB `images`, reports `class_names` and agrees with kdkeras' LiteRT
    evaluation of the file (skipped without `mediapipe`): `(agreement, top-1
    classes of kdkeras' LiteRT evaluation)`."""
    pytest.importorskip("mediapipe.tasks.python.vision")
    return _mediapipe_check


def _run_refused(config, tmp_path, code=2):
    config = {
        "run": {"name": "refused", "output_dir": str(tmp_path / "runs")},
        **config,
    }
    config_path = tmp_path / "kdkeras.yaml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = invoke("run", config_path)
    assert_refused(result, code)
    assert not os.path.exists(config["run"]["output_dir"])
    return result.output


@pytest.fixture
def run_refused(tmp_path):
    """`run_refused(config, code=2)`: `kdkeras run` on `config` (a dict; its
    `run.output_dir` defaults to `tmp_path/runs`) ends with `code`, one short
    error and no traceback, before the run folder exists; its output."""
    return lambda config, code=2: _run_refused(config, tmp_path, code)
