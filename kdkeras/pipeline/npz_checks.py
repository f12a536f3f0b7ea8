"""The arrays of a data `.npz` file, checked once before the first stage.

`x_train` and `x_test` must be numbers, finite, one example per row and of
one example shape; `y_train` and `y_test` one integer class id per example
(shape `(N,)` or `(N, 1)`), in `[0, len(class_names))`; `class_names` one
name per class that survives `labels.txt`, YAML and `metadata.json`
(`kdkeras.validation.labels.class_name_problem`). Each problem is named by
its key and array, e.g. `data.path: x_train holds 3 NaN values …`, so NaN
pixels or a repeated class name are refused before anything trains, not
after the scratch stage.
"""

import numpy as np

from kdkeras.config.errors import ConfigError
from kdkeras.validation.labels import class_name_problems, shown_name


def npz_class_names(array, key="data.path"):
    """The `class_names` array of a `.npz` as a list of `str`.

    Strings (`U`) are taken as they are, bytes (`S`) decoded as UTF-8 (not
    written `b'cat'`); numbers are refused (a `labels.txt` of "1", "2", "3"
    reads as names, but they were likely meant as labels).

    Raises:
        ConfigError: For another dtype, shape, or bytes that are not UTF-8.
    """
    if array.ndim != 1 or array.dtype.kind not in "US":
        raise ConfigError(
            [
                f"{key}: class_names: expected a 1-D array of strings, one per "
                f"class; received {array.dtype} of shape {array.shape}"
            ]
        )
    if array.dtype.kind == "S":
        try:
            return [bytes(name).decode("utf-8") for name in array]
        except UnicodeDecodeError as error:
            raise ConfigError(
                [f"{key}: class_names: expected UTF-8 names; received {error}"]
            ) from None
    return [str(name) for name in array]


def labelled_array_problems(x, y, names, key):
    """The problems of the arrays `x` and `y` of a `.npz` (those `kdkeras
    run` refuses: not numbers, empty, NaN or infinite, other lengths), each
    line naming `key` and the array, e.g. `"--data: x_test holds 0 NaN
    values and 1 infinite values, …"`.

    Args:
        x: The examples.
        y: Their class ids, of shape `(N,)` or `(N, 1)`.
        names: The arrays' names in the file, e.g. `("x_test", "y_test")`.
        key: The config key or option of the file.
    """
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return _split_problems(x, y, None, key, names)


def _split_problems(x, y, split, key, names=None):
    """The problems of the arrays `x_<split>` and `y_<split>` (or `names`)."""
    x_name, y_name = names or (f"x_{split}", f"y_{split}")
    problems = []
    if x.dtype.kind not in "biuf":
        problems.append(
            f"{key}: {x_name}: expected numbers (pixels or features); received "
            f"dtype {x.dtype}"
        )
    elif x.ndim < 2 or len(x) == 0:
        problems.append(
            f"{key}: {x_name}: expected at least one example, one a row, of shape "
            f"(N, …); received shape {x.shape}"
        )
    elif x.dtype.kind == "f":
        num_nan, num_inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
        if num_nan or num_inf:
            finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
            bad_examples = np.flatnonzero(~finite)
            problems.append(
                f"{key}: {x_name} holds {num_nan} NaN values and {num_inf} "
                f"infinite values, in {len(bad_examples)} examples (the first "
                f"is example {bad_examples[0]}); expected finite pixels or "
                "features"
            )
    if y.dtype.kind not in "iu":
        problems.append(
            f"{key}: {y_name}: expected integer class ids; received dtype {y.dtype}"
        )
    elif y.ndim != 1:
        problems.append(
            f"{key}: {y_name}: expected class ids of shape (N,) or (N, 1); "
            f"received shape {y.shape}"
        )
    elif x.ndim and len(x) != len(y):
        problems.append(
            f"{key}: expected one label per example; received {x_name} with "
            f"{len(x)} examples and {y_name} with {len(y)} labels"
        )
    return problems


def _label_range_problems(y, split, num_classes, named, key):
    if not len(y) or y.dtype.kind not in "iu" or y.ndim != 1:
        return []
    low, high = int(y.min()), int(y.max())
    if 0 <= low and high < num_classes:
        return []
    classes = (
        f"the {num_classes} class_names"
        if named
        else f"the classes of y_train (0 to {num_classes - 1}; class_names "
        "would name more)"
    )
    return [
        f"{key}: y_{split}: expected class ids in [0, {num_classes}), one per "
        f"class of {classes}; received class ids from {low} to {high}"
    ]


def check_npz_arrays(arrays, class_names=None, key="data.path"):
    """Refuses `.npz` arrays that cannot train, naming every problem.

    Args:
        arrays: `x_train`, `y_train` and optionally `x_test`, `y_test`, as
            read (`y` of shape `(N,)` or `(N, 1)`; images with or without a
            channel axis).
        class_names: The `class_names` (a list of `str`), or `None`.
        key: The config key of the file, for errors.

    Returns:
        The class names: `class_names`, or `"0"`, `"1"`, … up to the
        largest training label.

    Raises:
        ConfigError: Naming each problem with `key` and the array.
    """
    problems = []
    splits = ["train"] + (["test"] if "x_test" in arrays else [])
    labels = {}
    for split in splits:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        labels[split] = y
        problems += _split_problems(x, y, split, key)
    if "x_test" in arrays:
        train_shape = arrays["x_train"].shape[1:]
        test_shape = arrays["x_test"].shape[1:]
        if train_shape != test_shape and len(arrays["x_test"]):
            problems.append(
                f"{key}: x_test: expected examples of x_train's shape "
                f"{train_shape}; received {test_shape}"
            )
    if class_names is not None:
        problems += class_name_problems(class_names, key, noun="class_names entry")
        num_classes, named = len(class_names), True
    elif problems:
        raise ConfigError(problems)
    else:
        num_classes, named = int(labels["train"].max()) + 1, False
    for split in splits:
        problems += _label_range_problems(labels[split], split, num_classes, named, key)
    if named and num_classes < 2:
        problems.append(
            f"{key}: class_names: expected at least 2 classes; received "
            f"{[shown_name(name) for name in class_names]}"
        )
    if problems:
        raise ConfigError(problems)
    return class_names or [str(index) for index in range(num_classes)]
