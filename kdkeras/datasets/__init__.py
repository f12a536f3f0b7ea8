"""Datasets for knowledge distillation: MNIST and Fashion-MNIST loaders."""

from kdkeras.datasets.embedded import (
    FASHION_MNIST_CLASS_NAMES,
    load_embedded_fashion_mnist,
)
from kdkeras.datasets.fashion_mnist import load_fashion_mnist
from kdkeras.datasets.idx import read_idx
from kdkeras.datasets.mnist import load_mnist

__all__ = [
    "FASHION_MNIST_CLASS_NAMES",
    "load_embedded_fashion_mnist",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
]
