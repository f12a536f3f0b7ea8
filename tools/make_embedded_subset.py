"""Builds `kdkeras/datasets/data/fashion_mnist_subset.npz`.

The subset is a class-balanced random sample (fixed seed) of the official
Fashion-MNIST, read from the Debian package `dataset-fashion-mnist`:
1,000 training images per class (10,000 in all) and 200 test images per class
(2,000 in all), kept in their original order.

Usage (from the repository root):

    sudo apt-get install dataset-fashion-mnist  # if not installed yet
    python tools/make_embedded_subset.py
"""

import argparse
import os
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_DIR = "/usr/share/datasets/fashion-mnist"
OUTPUT = os.path.join(
    REPO_ROOT, "kdkeras", "datasets", "data", "fashion_mnist_subset.npz"
)
SEED = 20170825  # Fashion-MNIST's release date: any fixed value would do.
NUM_CLASSES = 10
TRAIN_PER_CLASS = 1000
TEST_PER_CLASS = 200


def balanced_indices(labels, per_class, rng):
    """Returns sorted indices of `per_class` random samples of each class."""
    chosen = [
        rng.choice(np.flatnonzero(labels == c), size=per_class, replace=False)
        for c in range(NUM_CLASSES)
    ]
    return np.sort(np.concatenate(chosen))


def make_subset(source_dir, seed=SEED):
    """Returns the subset arrays, keyed `x_train, y_train, x_test, y_test`."""
    sys.path.insert(0, REPO_ROOT)
    from kdkeras.datasets.fashion_mnist import load_fashion_mnist

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(
        path=source_dir, source="local"
    )
    rng = np.random.default_rng(seed)
    train = balanced_indices(y_train, TRAIN_PER_CLASS, rng)
    test = balanced_indices(y_test, TEST_PER_CLASS, rng)
    return {
        "x_train": x_train[train],
        "y_train": y_train[train],
        "x_test": x_test[test],
        "y_test": y_test[test],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source-dir", default=SOURCE_DIR)
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args()
    arrays = make_subset(args.source_dir)
    np.savez_compressed(args.output, **arrays)
    for key, value in arrays.items():
        print(f"{key}: shape={value.shape} dtype={value.dtype}")
    print(f"Wrote {args.output} ({os.path.getsize(args.output):,} bytes)")


if __name__ == "__main__":
    main()
