"""Argument and environment checks shared by kdkeras' public functions.

Each check raises a Keras-style error that names the argument (or the
setting), says what was expected and shows what was received, before any
expensive work starts.
"""

import numbers

import keras


def is_positive_int(value):
    """Whether `value` is an integer ≥ 1 (a `bool` is not)."""
    return is_count(value) and value >= 1


def is_count(value):
    """Whether `value` is an integer ≥ 0 (a `bool` is not)."""
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and value >= 0
    )


def check_count(value, argument_name, allow_none=False, meaning=""):
    """Raises `ValueError` unless `value` is an integer ≥ 0 (or `None`).

    Args:
        value: The received value.
        argument_name: The argument's name, as the user wrote it.
        allow_none: Whether `None` is accepted.
        meaning: Said after the expectation, e.g. `"0 skips the latency"`.

    Returns:
        `value` as an `int`, or `None`.
    """
    if value is None and allow_none:
        return None
    if not is_count(value):
        expected = "a non-negative integer" + (" or None" if allow_none else "")
        if meaning:
            expected += f" ({meaning})"
        raise ValueError(
            f"`{argument_name}` must be {expected}. Received: {argument_name}={value!r}"
        )
    return int(value)


def check_positive_int(value, argument_name, allow_none=False):
    """Raises `ValueError` unless `value` is a positive integer (or `None`).

    Args:
        value: The received value.
        argument_name: The argument's name, as the user wrote it.
        allow_none: Whether `None` is accepted.

    Returns:
        `value` as an `int`, or `None`.
    """
    if value is None and allow_none:
        return None
    if not is_positive_int(value):
        expected = "a positive integer" + (" or None" if allow_none else "")
        raise ValueError(
            f"`{argument_name}` must be {expected}. Received: {argument_name}={value!r}"
        )
    return int(value)


def require_tensorflow_backend(feature_name):
    """Raises `RuntimeError` unless Keras runs on the TensorFlow backend.

    LiteRT conversion and tensorflow-model-optimization work on TensorFlow
    graphs, so the Keras models they take must be TensorFlow-backed.

    Args:
        feature_name: What needs TensorFlow, as the user called it, e.g.
            `"kdkeras.export.export_litert"`.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"`{feature_name}` needs the TensorFlow backend of Keras. Received: "
            f"keras.backend.backend()={backend!r}. Set the environment variable "
            "KERAS_BACKEND=tensorflow before Keras is imported (e.g. "
            "`KERAS_BACKEND=tensorflow python train.py`), or set "
            '"backend": "tensorflow" in ~/.keras/keras.json.'
        )


def check_finite(array, argument_name):
    """Raises `ValueError` if a NumPy `array` holds NaN or infinite values."""
    import numpy as np

    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ValueError(
            f"`{argument_name}` must be finite. Received {bad} NaN or infinite values."
        )
