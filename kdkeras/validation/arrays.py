"""Checks of array data: finite values, at least one example, equal lengths.

They look at NumPy arrays (and lists or dicts of them, as multi-input models
take); a `tf.data.Dataset`, a generator or a `keras.utils.PyDataset` is
passed over, since it can only be checked while it is read.
"""

import numpy as np


def check_finite(array, argument_name):
    """Raises `ValueError` if a NumPy `array` holds NaN or infinite values.

    Integer and boolean arrays are always finite.
    """
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise ValueError(
            f"`{argument_name}` must be finite. Received {bad} NaN or infinite values."
        )


def _arrays(x):
    """The arrays of `x` (an array, or a list, tuple or dict of arrays), or `None`."""
    if isinstance(x, np.ndarray):
        return [x]
    if isinstance(x, dict) and x:
        parts = list(x.values())
    elif isinstance(x, (list, tuple)) and x:
        parts = list(x)
    else:
        return None
    if all(isinstance(part, np.ndarray) for part in parts):
        return parts
    return None


def check_examples(x, argument_name="x"):
    """Checks array inputs: at least one example, all finite.

    Args:
        x: A NumPy array (first axis: examples), or a list, tuple or dict of
            them. Anything else (a dataset, a generator) is not checked.
        argument_name: The argument named in errors.

    Returns:
        The number of examples, or `None` when `x` is not array data.

    Raises:
        ValueError: If `x` is empty, if its arrays hold different numbers of
            examples, or if it holds NaN or infinite values.
    """
    arrays = _arrays(x)
    if arrays is None:
        return None
    lengths = {len(array) if array.ndim else 0 for array in arrays}
    if len(lengths) > 1:
        raise ValueError(
            f"The arrays of `{argument_name}` must hold as many examples. "
            f"Received: lengths {sorted(lengths)}"
        )
    count = lengths.pop()
    if count == 0:
        shapes = [array.shape for array in arrays]
        raise ValueError(
            f"`{argument_name}` must hold at least one example. Received: "
            f"{argument_name} of shape {shapes[0] if len(shapes) == 1 else shapes}"
        )
    for array in arrays:
        check_finite(array, argument_name)
    return count


def check_same_length(**named):
    """Raises `ValueError` unless the named arrays hold as many examples.

    Example: `check_same_length(x=x, y=y)`.
    """
    lengths = {name: len(value) for name, value in named.items()}
    if len(set(lengths.values())) > 1:
        names = " and ".join(f"`{name}`" for name in lengths)
        received = ", ".join(
            f"len({name})={length}" for name, length in lengths.items()
        )
        raise ValueError(f"{names} must hold as many examples. Received: {received}")


def check_same_shape(**named):
    """Raises `ValueError` unless the named tensors' known shapes agree.

    Works on NumPy arrays and on backend tensors whose shapes hold `None`
    for sizes only known when a traced function runs (those are not
    compared). Example: `check_same_shape(teacher_logits=t, student_logits=s)`.
    """
    shapes = {name: tuple(value.shape) for name, value in named.items()}
    first = next(iter(shapes.values()))
    for shape in shapes.values():
        if len(shape) != len(first) or any(
            a is not None and b is not None and a != b
            for a, b in zip(shape, first, strict=True)
        ):
            names = " and ".join(f"`{name}`" for name in shapes)
            received = ", ".join(f"{name} of shape {s}" for name, s in shapes.items())
            raise ValueError(f"{names} must have the same shape. Received: {received}")
