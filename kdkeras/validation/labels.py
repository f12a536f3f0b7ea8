"""Checks of classification labels and class names.

Labels are class ids (integers, or floats that are whole numbers) of shape
`(N,)` or `(N, 1)`, or one-hot (or probability) rows of shape
`(N, num_classes)`. The Distiller, `kdkeras.optimize`, the offline caches and
the scoring all check them here, so a label is refused with the same words
everywhere.

Class names (`class_name_problems`) are checked by one rule wherever they
enter — `.npz` `class_names`, class folder names, `--labels` files — so
that each name survives `labels.txt` (one name a line, stripped), YAML and
`metadata.json` unchanged: a name that would not is refused, never renamed.
"""

import collections
import unicodedata
import weakref

import numpy as np

MAX_CLASS_NAME_LENGTH = 200
"""The longest class name accepted, in characters."""

_SHOWN_PROBLEMS = 5
"""How many bad class names an error lists; the others are counted."""

_BAD_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}
"""Unicode categories refused in a class name: control characters (newline,
tab, NUL, …), lone surrogates (not UTF-8) and line or paragraph separators."""


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


_CHECKED_DATASETS = weakref.WeakKeyDictionary()
"""Datasets built from labels already checked: dataset -> number of classes."""


def remember_checked_labels(dataset, num_classes):
    """Records that the class ids of `dataset` are in `[0, num_classes)`.

    For a dataset that kdkeras builds from NumPy labels it has just checked
    with `check_class_labels` (e.g. `kdkeras.caches.offline_dataset`), so
    that a `Distiller` does not check them again in the input pipeline: a
    map stage costs about 160 µs per batch on a 2-core CPU, 2 % of a small
    student's training step. Only this very dataset object is remembered
    (weakly); a dataset derived from it (`.map`, `.take`, ...) is checked
    again.

    Returns:
        `dataset`.
    """
    if num_classes is not None:
        _CHECKED_DATASETS[dataset] = int(num_classes)
    return dataset


def labels_already_checked(dataset, num_classes):
    """Whether `dataset`'s class ids were checked to be in `[0, num_classes)`
    (or a narrower range) when it was built (`remember_checked_labels`)."""
    try:
        checked_classes = _CHECKED_DATASETS.get(dataset)
    except TypeError:  # not weakly referenceable: never remembered
        return False
    return (
        checked_classes is not None
        and num_classes is not None
        and checked_classes <= num_classes
    )


def shown_name(name, limit=40):
    """`repr(name)` cut to about `limit` characters, for an error message."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 2] + "…'"


def class_name_problem(name):
    """Why `name` cannot be a class name, or `None` if it can.

    A class name is a non-empty string of at most `MAX_CLASS_NAME_LENGTH`
    characters, without leading or trailing white space (`labels.txt` is
    read stripped), control characters or line separators (it is one line of
    `labels.txt`), backslashes, and not a path out of a folder: not `.` or
    `..`, not starting with `/`, and no `.`, `..` or empty part between `/`
    (an inner `/` is kept: Fashion-MNIST has `T-shirt/top`).
    """
    if not isinstance(name, str):
        return f"expected a string; received {type(name).__name__}"
    if not name.strip():
        return "expected a non-empty class name"
    if len(name) > MAX_CLASS_NAME_LENGTH:
        return (
            f"expected a class name of at most {MAX_CLASS_NAME_LENGTH} "
            f"characters; received {len(name)}"
        )
    if any(
        unicodedata.category(char) in _BAD_CATEGORIES or char in "\ufeff\ufffe\uffff"
        for char in name
    ):
        return "expected a class name without control characters"
    if name != name.strip():
        return "expected a class name without leading or trailing spaces"
    if "\\" in name:
        return "expected a class name without a backslash (a path separator)"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "expected a class name that is not a path (., .., a leading /)"
    return None


def class_name_problems(names, key, noun="class name"):
    """The problems of `names` as class names, one line each, e.g.
    `"data.path: class folder 'a\\nb': expected a class name without control
    characters"`; empty if there are none.

    Args:
        names: The class names, in label order.
        key: The config key or command-line option they came from.
        noun: What a name is there (`"class folder"`, `"class_names entry"`).

    Returns:
        A list of lines, each starting with `key`: at most `_SHOWN_PROBLEMS`
        names, then how many more; then each repeated name.
    """
    bad = [(name, class_name_problem(name)) for name in names]
    bad = [(name, problem) for name, problem in bad if problem is not None]
    lines = [
        f"{key}: {noun} {shown_name(name)}: {problem}"
        for name, problem in bad[:_SHOWN_PROBLEMS]
    ]
    if len(bad) > _SHOWN_PROBLEMS:
        lines.append(f"{key}: … and {len(bad) - _SHOWN_PROBLEMS} more bad names")
    counts = collections.Counter(name for name in names if isinstance(name, str))
    repeated = [(name, count) for name, count in counts.items() if count > 1]
    lines += [
        f"{key}: expected each class name once; received {shown_name(name)} "
        f"{count} times"
        for name, count in repeated[:_SHOWN_PROBLEMS]
    ]
    return lines


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
    names = [str(name) for name in names]
    problems = class_name_problems(names, f"`{argument_name}`")
    if problems:
        raise ValueError(
            f"`{argument_name}` must hold names that survive labels.txt, YAML "
            "and metadata unchanged. Received: " + "; ".join(problems)
        )
    return names
