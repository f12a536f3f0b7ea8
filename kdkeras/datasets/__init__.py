"""Datasets for knowledge distillation: MNIST, Fashion-MNIST and SpamAssassin."""

from kdkeras.datasets.embedded import (
    FASHION_MNIST_CLASS_NAMES,
    load_embedded_fashion_mnist,
)
from kdkeras.datasets.fashion_mnist import load_fashion_mnist
from kdkeras.datasets.idx import read_idx
from kdkeras.datasets.mnist import load_mnist
from kdkeras.datasets.spam_assassin import (
    SPAM_ASSASSIN_CLASS_NAMES,
    email_text,
    load_embedded_spam_assassin,
    load_spam_assassin,
    read_messages,
    split_indices,
)

__all__ = [
    "FASHION_MNIST_CLASS_NAMES",
    "SPAM_ASSASSIN_CLASS_NAMES",
    "email_text",
    "load_embedded_spam_assassin",
    "load_embedded_fashion_mnist",
    "load_fashion_mnist",
    "load_mnist",
    "load_spam_assassin",
    "read_idx",
    "read_messages",
    "split_indices",
]
