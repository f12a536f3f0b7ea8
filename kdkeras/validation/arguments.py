"""Checks of scalar arguments: counts, numbers in a range, one of a few values."""

import math
import numbers


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


def check_number(value, argument_name, low=None, high=None, include_low=True):
    """Raises unless `value` is a finite real number in `[low, high]`.

    Args:
        value: The received value.
        argument_name: The argument's name, as the user wrote it.
        low: The smallest accepted value, or `None` for no bound.
        high: The largest accepted value, or `None` for no bound.
        include_low: Whether `low` itself is accepted (`False`: `> low`).

    Returns:
        `value` as a `float`.

    Raises:
        TypeError: If `value` is not a real number (a `bool` or a string is not).
        ValueError: If it is NaN, infinite or out of the range.
    """
    expected = "a finite number"
    if low is not None or high is not None:
        opening = "[" if include_low else "("
        lower = "-inf" if low is None else f"{low:g}"
        upper = "inf" if high is None else f"{high:g}"
        expected += f" in {opening}{lower}, {upper}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"`{argument_name}` must be {expected}. Received: "
            f"{argument_name}={value!r} of type {type(value).__name__}"
        )
    value = float(value)
    below = low is not None and (value < low or (value == low and not include_low))
    above = high is not None and value > high
    if not math.isfinite(value) or below or above:
        raise ValueError(
            f"`{argument_name}` must be {expected}. Received: {argument_name}={value!r}"
        )
    return value


def check_one_of(value, choices, argument_name):
    """Raises `ValueError` unless `value` is one of `choices`; returns it."""
    if isinstance(value, bool) or value not in choices:
        raise ValueError(
            f"`{argument_name}` must be one of {tuple(choices)}. "
            f"Received: {argument_name}={value!r}"
        )
    return value


def check_string(value, argument_name, allow_none=False):
    """Raises `TypeError` unless `value` is a non-empty `str` (or `None`)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        expected = "a non-empty string" + (" or None" if allow_none else "")
        raise TypeError(
            f"`{argument_name}` must be {expected}. Received: "
            f"{argument_name}={value!r} of type {type(value).__name__}"
        )
    return value
