"""Checks of classification labels and class names.

Labels are class ids (integers, or floats that are whole numbers) of shape
`(N,)` or `(N, 1)`, or one-hot (or probability) rows of shape
`(N, num_classes)`. The Distiller, `kdkeras.optimize`, the offline caches and
the scoring all check them here, so a label is refused with the same words
everywhere.
"""

import numpy as np


def _is_one_hot(labels):
    return labels.ndim == 2 and labels.shape[-1] != 1


def check_class_labels(labels, num_classes=None, argument_name="y", owner="model"):
    """Raises `ValueError` unless `labels` can be classes of a classifier.

    Class ids must be whole numbers in `[0, num_classes)`; one-hot or
    soft-label rows must have `num_classes` columns and be finite. Anything
    that is not a NumPy array (a tensor, a dataset) is not checked.

    Args:
        labels: The labels, a NumPy array.
        num_classes: The classifier's number of outputs, or `None` if unknown
            (then only dtype, whole numbers and ≥ 0 are checked).
        argument_name: The argument named in errors.
        owner: What outputs the classes, e.g. `"student"`, in errors.

    Raises:
        ValueError: If a label cannot be one of the classes.
    """
    if not isinstance(labels, np.ndarray):
        return
    if labels.dtype.kind not in "iuf":
        raise ValueError(
            f"`{argument_name}` must hold class ids (integers) or one-hot rows. "
            f"Received labels of dtype {labels.dtype}"
        )
    if _is_one_hot(labels):
        if num_classes is not None and labels.shape[-1] != num_classes:
            raise ValueError(
                f"`{argument_name}` must have {num_classes} columns, one per class "
                f"of the {owner}, when it is one-hot. Received: {argument_name} of "
                f"shape {labels.shape}"
            )
        from kdkeras.validation.arrays import check_finite

        check_finite(labels, argument_name)
        return
    if labels.ndim > 2 or labels.ndim == 0:
        raise ValueError(
            f"`{argument_name}` must be class ids of shape (N,) or (N, 1), or "
            f"one-hot rows of shape (N, num_classes). Received: {argument_name} "
            f"of shape {labels.shape}"
        )
    if labels.dtype.kind == "f":
        fractional = labels[labels != np.round(labels)]
        if fractional.size:
            raise ValueError(
                f"`{argument_name}` must hold whole class ids, or one-hot rows. "
                f"Received fractional (or NaN) labels: {fractional[:5].tolist()}"
            )
    outside = labels < 0
    if num_classes is not None:
        outside |= labels >= num_classes
    if np.any(outside):
        upper = f"{num_classes})" if num_classes is not None else "num_classes)"
        raise ValueError(
            f"`{argument_name}` must hold class ids in [0, {upper}, one per class "
            f"of the {owner}. Received labels outside it: "
            f"{labels[outside][:5].tolist()} (class ids from {labels.min():g} to "
            f"{labels.max():g})"
        )


def check_class_names(class_names, num_classes=None, argument_name="class_names"):
    """Raises unless `class_names` is a list of distinct names, one per class.

    Args:
        class_names: A list or tuple of strings.
        num_classes: The number of classes they must name, or `None`.
        argument_name: The argument named in errors.

    Returns:
        The names as a list of `str`.

    Raises:
        TypeError: If `class_names` is a string or not a sequence of strings.
        ValueError: If it is empty, has duplicates or the wrong length.
    """
    if isinstance(class_names, (str, bytes)) or not isinstance(
        class_names, (list, tuple, np.ndarray)
    ):
        raise TypeError(
            f"`{argument_name}` must be a list of strings, one per class. "
            f"Received: {argument_name}={class_names!r} of type "
            f"{type(class_names).__name__}"
        )
    names = list(class_names)
    if not all(isinstance(name, (str, np.str_)) for name in names):
        raise TypeError(
            f"`{argument_name}` must be a list of strings, one per class. "
            f"Received: {argument_name}={names!r}"
        )
    if not names or len(set(names)) != len(names):
        raise ValueError(
            f"`{argument_name}` must name each class once. Received: "
            f"{argument_name}={names!r}"
        )
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(
            f"`{argument_name}` must name each of the {num_classes} classes. "
            f"Received: {len(names)} class names for {num_classes} classes"
        )
    return [str(name) for name in names]
