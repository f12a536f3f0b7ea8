"""Reading a batched `tf.data.Dataset` one batch at a time, as NumPy arrays.

Scoring, the report and the logit cache take such datasets (e.g. from
`keras.utils.image_dataset_from_directory`) besides arrays: they read one
batch at a time and keep only what they compute from it (predictions,
logits), never the whole data as one array.
"""

import sys

import numpy as np


def is_dataset(value):
    """Whether `value` is a `tf.data.Dataset` (without importing TensorFlow)."""
    tensorflow = sys.modules.get("tensorflow")
    return tensorflow is not None and isinstance(value, tensorflow.data.Dataset)


def yields_labels(dataset):
    """Whether the elements of `dataset` are `(inputs, labels, ...)` tuples."""
    return isinstance(dataset.element_spec, tuple) and len(dataset.element_spec) >= 2


def check_batched_pairs(dataset, argument_name):
    """Refuses a dataset that does not yield batched `(inputs, labels)`.

    Args:
        dataset: A `tf.data.Dataset`.
        argument_name: Its name in the caller, for the error.

    Raises:
        ValueError: If its elements are not `(inputs, labels)` tuples whose
            labels are batched (class ids `(batch,)` or one-hot rows).
    """
    if not yields_labels(dataset):
        raise ValueError(
            f"`{argument_name}` must yield `(inputs, labels)` batches when it "
            "is a tf.data.Dataset (as keras.utils.image_dataset_from_directory "
            f"does). Received: a dataset of {dataset.element_spec}"
        )
    label_rank = dataset.element_spec[1].shape.rank
    if label_rank is not None and label_rank not in (1, 2):
        raise ValueError(
            f"`{argument_name}` must yield batched labels: class ids of shape "
            "(batch,) or one-hot rows (batch, num_classes); call `.batch(...)` "
            f"on it. Received labels of shape {dataset.element_spec[1].shape}"
        )


def input_batches(dataset):
    """The inputs of each batch of `dataset`, as NumPy arrays (labels dropped)."""
    for element in dataset.as_numpy_iterator():
        yield element[0] if isinstance(element, tuple) else element


def labelled_batches(dataset):
    """`(inputs, labels)` NumPy arrays, one pair per batch of `dataset`."""
    for element in dataset.as_numpy_iterator():
        yield element[0], np.asarray(element[1])


def steps_per_epoch(num_samples, batch_size):
    """Batches per epoch: `ceil(num_samples / batch_size)`."""
    return -(-int(num_samples) // int(batch_size))


def array_batches(x, batch_size):
    """The input batches of a dataset, or of arrays (an array, or a list or
    dict of them) cut into `batch_size` rows."""
    if is_dataset(x):
        yield from input_batches(x)
        return
    if isinstance(x, dict):
        num_rows = len(next(iter(x.values())))
    elif isinstance(x, (list, tuple)):
        num_rows = len(x[0])
    else:
        num_rows = len(x)
    for start in range(0, num_rows, batch_size):
        stop = start + batch_size
        if isinstance(x, dict):
            yield {key: value[start:stop] for key, value in x.items()}
        elif isinstance(x, (list, tuple)):
            yield [value[start:stop] for value in x]
        else:
            yield x[start:stop]
