"""Each training example's index, for feature methods that keep per-example
state (`ContrastiveRepresentation`, CRD: its memory banks have one row per
example).

A method says it needs them with `needs_example_index = True`. The indices
travel in the targets, beside the labels, so the models' inputs do not
change:

```
y = {"targets": labels (or (labels, teacher_logits)), "example_index": index}
```

- NumPy (or other array) inputs: `Distiller.fit(x, y)` adds
  `np.arange(len(x))` itself, before Keras shuffles, so each example keeps
  its index (its row in `x`) in every epoch. `validation_split` keeps the
  indices of the training part.
- A `tf.data.Dataset`: number its examples with `with_example_index`
  *before* shuffling, augmenting in batches or batching, so that an example
  has the same index in every epoch:

  ```python
  dataset = tf.data.Dataset.from_tensor_slices((x, y))
  dataset = kdkeras.distillation.with_example_index(dataset)
  dataset = dataset.shuffle(len(x)).batch(64)
  ```

  `fit` refuses a dataset without them, and an index outside
  `[0, num_examples)` stops training with a `ValueError`.
- Own indices (e.g. a subset of a larger training set): pass
  `y={"targets": y, "example_index": index}` to `fit`.

Without such a method, nothing is added and the targets are as before.
Evaluation needs no indices.
"""

import numpy as np
from keras import tree

from kdkeras.batches import is_dataset
from kdkeras.distillation.pipeline_checks import CHECK_TAG

TARGETS = "targets"
INDEX = "example_index"


def needing_index(features):
    """The feature methods among `features` that need example indices."""
    return [f for f in features or () if getattr(f, "needs_example_index", False)]


def split(y):
    """`(targets, example_index or None)` of a batch's (or a dataset's) `y`."""
    if isinstance(y, dict) and INDEX in y:
        return y[TARGETS], y[INDEX]
    return y, None


def with_example_index(dataset):
    """Numbers the examples of a `tf.data.Dataset` for CRD.

    Args:
        dataset: An *unbatched* dataset of `(x, y)` or `(x, y,
            sample_weight)` examples, before shuffling: each element is one
            example, so its position is its index.

    Returns:
        A dataset of `(x, {"targets": y, "example_index": i}[, sample_weight])`
        with `i` the int32 position of the example (0, 1, 2, …). Shuffle and
        batch it afterwards.
    """
    import tensorflow as tf

    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(
            "`with_example_index` numbers a dataset of `(x, y)` or "
            "`(x, y, sample_weight)` examples. Received a dataset of "
            f"{spec!r}"
        )

    def attach(index, element):
        x, y, *rest = element
        return (x, {TARGETS: y, INDEX: tf.cast(index, "int32")}, *rest)

    return dataset.enumerate().map(attach)


def _method_names(methods):
    return ", ".join(f"{type(m).__name__} {m.name!r}" for m in methods)


def missing_index_error(method):
    """The `ValueError` of a training batch that carries no indices."""
    return ValueError(
        f"The feature method {type(method).__name__} {method.name!r} needs each "
        "training example's index. `Distiller.fit` adds them to NumPy inputs "
        "given with `y`; number a `tf.data.Dataset` with "
        "`kdkeras.distillation.with_example_index(dataset)` before shuffling "
        "and batching, or give `y={'targets': y, 'example_index': index}`."
    )


def _check_range(index, methods):
    index = np.asarray(index)
    if index.size == 0:
        return
    if not np.issubdtype(index.dtype, np.integer):
        raise TypeError(
            f"Example indices must be integers. Received dtype {index.dtype}"
        )
    smallest = min(m.num_examples for m in methods)
    if index.min() < 0 or index.max() >= smallest:
        raise ValueError(
            f"Example indices must be in [0, num_examples) for {_method_names(methods)}"
            f" (num_examples={smallest}). Received indices in "
            f"[{index.min()}, {index.max()}]: give a larger `num_examples`."
        )


def _checked_dataset(dataset, methods):
    """`dataset` with an assertion that its indices are in range."""
    import tensorflow as tf

    smallest = min(m.num_examples for m in methods)
    message = (
        f"{CHECK_TAG}Example indices must be in [0, num_examples) for "
        f"{_method_names(methods)} (num_examples={smallest}); give a larger "
        "`num_examples`. Received:"
    )

    def check(x, y, *rest):
        index = y[INDEX]
        inside = tf.logical_and(index >= 0, index < smallest)
        assertion = tf.debugging.Assert(
            tf.reduce_all(inside),
            [message, tf.boolean_mask(index, tf.logical_not(inside))],
            summarize=5,
        )
        with tf.control_dependencies([assertion]):
            y = {TARGETS: y[TARGETS], INDEX: tf.identity(index)}
        return (x, y, *rest)

    return dataset.map(check)


def attached(features, x, y):
    """`(x, y)` of `Distiller.fit`, with example indices when a method needs them.

    Without such a method in `features`, `(x, y)` unchanged. Arrays get
    `np.arange(len(x))` in `y`; a dataset must already carry them
    (`with_example_index`); indices are checked against each method's
    `num_examples`. A generator or `keras.utils.PyDataset` must yield
    `(x, {"targets": y, "example_index": index})` itself.

    Raises:
        ValueError: A dataset without indices, or an index out of range.
    """
    methods = needing_index(features)
    if not methods:
        return x, y
    if is_dataset(x):
        spec = x.element_spec
        if not (
            isinstance(spec, tuple)
            and len(spec) > 1
            and isinstance(spec[1], dict)
            and INDEX in spec[1]
        ):
            raise ValueError(
                f"{_method_names(methods)} needs each training example's index: "
                "number the dataset with "
                "`kdkeras.distillation.with_example_index(dataset)` before "
                "shuffling and batching."
            )
        return _checked_dataset(x, methods), y
    if y is None:
        return x, y
    targets, index = split(y)
    if index is None:
        index = np.arange(len(tree.flatten(x)[0]), dtype="int32")
    _check_range(index, methods)
    return x, {TARGETS: targets, INDEX: index}
