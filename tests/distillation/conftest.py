"""Fixtures shared by the tests of the view caches."""

import numpy as np
import pytest


@pytest.fixture
def images():
    """40 random 8×8 grayscale images and labels of 4 classes."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (40, 8, 8, 1)).astype("uint8")
    y = rng.integers(0, 4, 40)
    return x, y
