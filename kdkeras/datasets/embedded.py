"""A small, class-balanced subset of Fashion-MNIST shipped with kdkeras.

It makes examples and tests run offline and fast. See
`data/LICENSE-fashion-mnist.txt` for its licence and provenance, and
`tools/make_embedded_subset.py` for how it was made.
"""

import os

import numpy as np

FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Names of the 10 Fashion-MNIST classes, indexed by label."""

EMBEDDED_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "data", "fashion_mnist_subset.npz"
)


def load_embedded_fashion_mnist():
    """Loads the Fashion-MNIST subset embedded in kdkeras (no download).

    The subset holds 10,000 training images (1,000 per class) and 2,000 test
    images (200 per class), drawn at random with a fixed seed from the
    official training and test sets and kept in their original order.

    Returns:
        `(x_train, y_train), (x_test, y_test)` in the format of
        `keras.datasets.fashion_mnist.load_data()`: `uint8` images of shape
        `(N, 28, 28)` and `uint8` labels of shape `(N,)` in `[0, 9]` (see
        `FASHION_MNIST_CLASS_NAMES`).

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_embedded_fashion_mnist()
    >>> x_train.shape, x_test.shape
    ((10000, 28, 28), (2000, 28, 28))
    """
    with np.load(EMBEDDED_PATH, allow_pickle=False) as data:
        x_train, y_train = data["x_train"], data["y_train"]
        x_test, y_test = data["x_test"], data["y_test"]
    return (x_train, y_train), (x_test, y_test)
