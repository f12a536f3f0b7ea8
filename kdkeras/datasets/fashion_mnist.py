"""Fashion-MNIST loader: local IDX files (Debian package) or `keras.datasets`."""

from kdkeras.datasets._local import DatasetSpec, load_dataset

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
"""Where the Debian package `dataset-fashion-mnist` installs the IDX files."""


def _default_dirs():
    return [DEFAULT_DIR]


_SPEC = DatasetSpec(
    display_name="Fashion-MNIST",
    keras_name="fashion_mnist",
    default_dirs=_default_dirs,
    how_to_fix=(
        "install the Debian package that puts the four files in "
        f"{DEFAULT_DIR}/: `sudo apt-get install dataset-fashion-mnist`;",
        "or pass `path=` a directory that holds the four files, e.g. "
        "`load_fashion_mnist(path='/data/fashion-mnist')`;",
        "or connect to the internet and use source='auto' or source='keras' "
        "so that keras.datasets can download them;",
        "or, for a quick offline run, use `load_embedded_fashion_mnist()` "
        "(a 10,000/2,000-image subset shipped with kdkeras).",
    ),
)


def load_fashion_mnist(path=None, source="auto"):
    """Loads the full Fashion-MNIST dataset (60,000 train / 10,000 test images).

    With `source="auto"`, the data comes from the first of:

    1. `path`, when given and holding the four IDX files;
    2. otherwise `/usr/share/datasets/fashion-mnist/` (Debian package
       `dataset-fashion-mnist`), when it holds them;
    3. `keras.datasets.fashion_mnist.load_data()`, which downloads the files
       (or reuses its cache in `~/.keras/datasets/`).

    All three give the same arrays.

    Args:
        path: Optional directory holding `train-images-idx3-ubyte`,
            `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
            `t10k-labels-idx1-ubyte`, each gzipped (`.gz`) or raw.
        source: `"auto"` (see above), `"local"` (local IDX files only, never
            download) or `"keras"` (`keras.datasets` only; `path` must then
            be `None`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`, as
        `keras.datasets.fashion_mnist.load_data()`: `uint8` images of shape
        `(N, 28, 28)` and `uint8` labels of shape `(N,)` in `[0, 9]`
        (see `FASHION_MNIST_CLASS_NAMES`).

    Raises:
        ValueError: If `source` is invalid or a file is malformed.
        DatasetNotFoundError: A `FileNotFoundError` raised when the files are
            found nowhere and cannot be downloaded; its message lists the
            directories searched and how to get the data.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    >>> x_train.shape, x_test.shape
    ((60000, 28, 28), (10000, 28, 28))
    """
    return load_dataset(_SPEC, path=path, source=source)
