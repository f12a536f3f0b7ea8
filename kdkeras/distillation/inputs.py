"""Checks of the labels a `Distiller` is given, before and while it trains.

Labels are checked where they can be on every Keras backend: NumPy arrays at
once, before any training step; a `tf.data.Dataset` in the input pipeline,
which Keras feeds to every backend. A generator or a `keras.utils.PyDataset`
is not checked (its labels are only seen inside the step).
"""

from kdkeras.batches import is_dataset
from kdkeras.distillation import example_index
from kdkeras.distillation.pipeline_checks import CHECK_TAG as _CHECK_TAG
from kdkeras.distillation.pipeline_checks import (  # noqa: F401 (Distiller's)
    checks_as_value_errors,
)
from kdkeras.validation import check_class_labels, check_examples, check_positive_int
from kdkeras.validation.labels import labels_already_checked


def split_targets(y):
    """`(labels, teacher_logits or None, teacher_features or None)` of a batch.

    `y` is the labels, `(labels, teacher_logits)` when training offline, or
    `(labels, teacher_logits, teacher_features)` (a dict by teacher layer
    name) when feature methods train offline too; example indices beside
    them (`example_index`) are dropped.
    """
    y, _ = example_index.split(y)
    if isinstance(y, (tuple, list)):
        if len(y) not in (2, 3):
            raise ValueError(
                "Targets must be `labels`, `(labels, teacher_logits)` or "
                "`(labels, teacher_logits, teacher_features)`. "
                f"Received a {type(y).__name__} of {len(y)} elements."
            )
        return y[0], y[1], (y[2] if len(y) == 3 else None)
    return y, None, None


def _range_message(num_classes):
    return (
        f"Labels must be class ids in [0, {num_classes}) for a student with "
        f"{num_classes} outputs. Received labels outside it:"
    )


def check_labels(y, num_classes, argument_name="y"):
    """Checks NumPy labels (or `(labels, teacher_logits)`) for a classifier.

    Class ids must be whole numbers in `[0, num_classes)`; one-hot or
    soft-label rows must have `num_classes` columns (see
    `kdkeras.validation.check_class_labels`).

    Args:
        y: The targets of `fit` or `evaluate`.
        num_classes: The student's number of outputs, or `None` if unknown.
        argument_name: The argument named in errors.

    Raises:
        ValueError: If a label cannot be one of the student's classes.
    """
    labels, *_ = split_targets(y)
    check_class_labels(labels, num_classes, argument_name, owner="student")


def check_one_hot_width(labels, student_logits):
    """Raises `ValueError` if one-hot labels have another width than the logits."""
    labels_shape, logits_shape = tuple(labels.shape), tuple(student_logits.shape)
    if len(labels_shape) != len(logits_shape) or labels_shape[-1] == 1:
        return
    if None not in (labels_shape[-1], logits_shape[-1]) and (
        labels_shape[-1] != logits_shape[-1]
    ):
        raise ValueError(
            f"One-hot labels must have {logits_shape[-1]} columns, one per "
            f"class of the student. Received labels of shape {labels_shape}"
        )


def with_label_checks(dataset, num_classes):
    """`dataset` with an assertion that its class ids are in range.

    Args:
        dataset: A `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)`.
        num_classes: The student's number of outputs.

    Returns:
        The dataset, mapped; iterating over a bad batch raises an error that
        `checks_as_value_errors` turns into a `ValueError`.
    """
    import tensorflow as tf

    def check(*element):
        if len(element) < 2:
            return element if len(element) > 1 else element[0]
        labels, *_ = split_targets(element[1])
        if labels.dtype.is_integer and (
            labels.shape.rank == 1 or labels.shape[-1] == 1
        ):
            in_range = tf.logical_and(labels >= 0, labels < num_classes)
            message = f"{_CHECK_TAG}{_range_message(num_classes)}"
            assertion = tf.debugging.Assert(
                tf.reduce_all(in_range),
                [message, tf.boolean_mask(labels, tf.logical_not(in_range))],
                summarize=5,
            )
            with tf.control_dependencies([assertion]):
                element = tf.nest.map_structure(tf.identity, element)
        return element

    return dataset.map(check)


class CheckedDatasets:
    """The label-checked pipelines of the datasets last given, by role.

    Wrapping a dataset in `with_label_checks` traces the check's map function
    (about 40 ms on a 2-core CPU), and a new map stage starts every epoch's
    iterator afresh: a `fit` called once per epoch on the same dataset (a
    loop of `fit(dataset, epochs=1)`, a benchmark) paid it every time. One
    `CheckedDatasets` per Distiller keeps, for each role (`"x"`,
    `"validation_data"`), the last dataset and its checked pipeline, and
    gives the same pipeline back while the same dataset comes again.
    """

    def __init__(self):
        self._last = {}

    def checked(self, dataset, num_classes, role):
        last = self._last.get(role)
        if last is not None and last[0] is dataset and last[1] == num_classes:
            return last[2]
        checked_dataset = with_label_checks(dataset, num_classes)
        self._last[role] = (dataset, num_classes, checked_dataset)
        return checked_dataset


def checked(x, y, num_classes, datasets=None, role="x"):
    """`x` with checks: arrays now (examples, labels), a dataset as it runs
    (its checked pipeline kept in `datasets`, a `CheckedDatasets`, if given)."""
    if y is not None:
        check_examples(x, "x")
        check_labels(y, num_classes)
        return x
    if num_classes is None:
        return x
    if is_dataset(x):
        if labels_already_checked(x, num_classes):
            return x
        if datasets is not None:
            return datasets.checked(x, num_classes, role)
        return with_label_checks(x, num_classes)
    return x


def checked_fit_arguments(x, y, fit_kwargs, num_classes, datasets=None):
    """`(x, fit_kwargs)` of `Distiller.fit` with labels and batch size checked.

    Labels of NumPy inputs and of `validation_data` are checked at once; a
    `tf.data.Dataset` gets checks in its pipeline (`checked`), reused from
    `datasets` (a `CheckedDatasets`) when the same dataset comes again.
    """
    check_positive_int(fit_kwargs.get("batch_size"), "batch_size", allow_none=True)
    x = checked(x, y, num_classes, datasets)
    fit_kwargs = dict(fit_kwargs)
    validation_data = fit_kwargs.get("validation_data")
    if isinstance(validation_data, (tuple, list)) and len(validation_data) > 1:
        check_labels(validation_data[1], num_classes, "validation_data")
    elif validation_data is not None:
        fit_kwargs["validation_data"] = checked(
            validation_data, None, num_classes, datasets, "validation_data"
        )
    return x, fit_kwargs
