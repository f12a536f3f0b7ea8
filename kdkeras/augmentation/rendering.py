"""Reproducible augmented views: the same view of image `i` at epoch `e`, always.

Function matching (Beyer et al. 2022, "Knowledge distillation: A good teacher
is patient and consistent", arXiv:2106.05237) trains the student for long on
aggressively augmented views, the teacher seeing *exactly* the student's view.
Online, that costs a teacher forward pass per step. With views that can be
replayed, the teacher's logits for every view can be computed once and stored
(`kdkeras.caches.augmented_file`), and the student trained later at the
speed of plain training.

A view is drawn by a `AugmentationPlan` as stored parameters, not as random ops, so
it is the same on every run, backend and machine:

* `mixup` (Zhang et al. 2018): `x = w * x_i + (1 - w) * x_j` with
  `w ~ Beta(a, a)`, a partner image `j`;
* `cutmix` (Yun et al. 2019): the box `[top, bottom) x [left, right)` of
  `x_i` replaced by the same box of `x_j`;
* then a shift by `(row_shift, col_shift)` pixels (zero fill) and an optional
  horizontal flip, applied as two 0/1 selection matrices, which is exact in
  float32: `view[r, c] = x[r - row_shift, c' - col_shift]` with
  `c' = W - 1 - c` if flipped, else `c`.

The label of a mixed view is `label_weight * y_i + (1 - label_weight) * y_j`
(one-hot), with `label_weight = w` for mixup and the kept area's fraction for
cutmix; pure function matching (`alpha=0`) does not use it.

```python
plan = kdkeras.augmentation.rendering.AugmentationPlan(shift=2, horizontal_flip=True,
                                            mixup_alpha=0.2, seed=0)
parameters = plan.draw(len(x_train), x_train.shape[1:3], epochs=30)
dataset = augmented_dataset(x_train, y_train, parameters, batch_size=128)
student.fit(dataset, epochs=30, steps_per_epoch=steps_per_epoch(len(x_train), 128))
```
"""

import numpy as np

from kdkeras import batches
from kdkeras.augmentation.plan import PARAMETER_NAMES, AugmentationPlan
from kdkeras.validation import check_positive_int

__all__ = [
    "PARAMETER_NAMES",
    "AugmentationPlan",
    "labelled_augmented_batch",
    "labels_for_augmented",
    "render_augmented",
    "augmented_dataset",
]


def render_augmented(images, partner_images, parameters):
    """The views of a batch: mix with the partners, then shift and flip.

    Args:
        images: `(batch, height, width, channels)` tensor.
        partner_images: The partners' images, same shape.
        parameters: A dict of `(batch,)` tensors (`box`: `(batch, 4)`), one
            epoch's rows of `AugmentationPlan.draw`.

    Returns:
        `float32` tensor of the views, shape of `images`.
    """
    import tensorflow as tf

    images = tf.cast(images, "float32")
    partner_images = tf.cast(partner_images, "float32")
    height, width = images.shape[1], images.shape[2]
    mixup_weight = parameters["mixup_weight"][:, None, None, None]
    mixed = mixup_weight * images + (1.0 - mixup_weight) * partner_images
    top, left, bottom, right = tf.unstack(parameters["box"][:, :, None], axis=1)
    rows, cols = tf.range(height)[None, :], tf.range(width)[None, :]
    in_rows = (rows >= top) & (rows < bottom)
    in_cols = (cols >= left) & (cols < right)
    in_box = (in_rows[:, :, None] & in_cols[:, None, :])[..., None]
    mixed = tf.where(in_box, partner_images, mixed)
    # Selection matrices: out-of-range source indices give all-zero rows.
    source_rows = rows - parameters["row_shift"][:, None]
    flipped_cols = tf.where(parameters["flip"][:, None] > 0, width - 1 - cols, cols)
    source_cols = flipped_cols - parameters["col_shift"][:, None]
    select_rows = tf.one_hot(source_rows, height, dtype="float32")
    select_cols = tf.one_hot(source_cols, width, dtype="float32")
    return tf.einsum("brs,bstc,bqt->brqc", select_rows, mixed, select_cols)


def labelled_augmented_batch(
    images, labels, indices, rows, mixed, squeeze, teacher_logits=None
):
    """One batch of views, with their labels and teacher logits when given.

    Args:
        images: All the images, a `(N, H, W, C)` tensor.
        labels: `labels_for_augmented(...)` as a tensor, or `None`.
        indices: `(batch,)` int32 indices of the batch's images.
        rows: The batch's view parameters, a dict of `(batch[, 4])` tensors.
        mixed: Whether views may mix two images (labels are then mixed too).
        squeeze: Whether to drop the channel axis of the views.
        teacher_logits: The batch's `(batch, classes)` teacher logits, or `None`.

    Returns:
        `views`, `(views, labels)` or `(views, (labels, teacher_logits))`.
    """
    import tensorflow as tf

    partners = rows["partner"]
    views = render_augmented(
        tf.gather(images, indices), tf.gather(images, partners), rows
    )
    if squeeze:
        views = views[..., 0]
    if labels is None:
        return views
    batch_labels = tf.gather(labels, indices)
    if mixed:
        weight = rows["label_weight"][:, None]
        batch_labels = weight * batch_labels + (1.0 - weight) * tf.gather(
            labels, partners
        )
    if teacher_logits is None:
        return views, batch_labels
    return views, (batch_labels, teacher_logits)


def augmented_dataset(
    x,
    y,
    parameters,
    batch_size=32,
    teacher_logits=None,
    num_classes=None,
    shuffle=True,
    seed=0,
):
    """A `tf.data.Dataset` of the views of every epoch, in order.

    Epoch `e`'s batches hold the views `parameters[..][e]` of all the images
    (shuffled with `[seed, e]`); no batch spans two epochs. Train with
    `fit(dataset, epochs=E, steps_per_epoch=steps_per_epoch(N, batch_size))`:
    Keras then keeps one iterator over the epochs, so epoch `e` of `fit`
    sees the stored epoch `e` (after the last stored epoch, or when `fit`
    starts again from a `BackupAndRestore` backup, the views start again from
    the first). Without `steps_per_epoch`, one `fit` epoch covers them all.

    Args:
        x: Images, a NumPy array `(N, H, W, C)` or `(N, H, W)`.
        y: Labels (class ids or one-hot rows), or `None` for inputs only.
        parameters: `AugmentationPlan.draw(...)` for these images.
        batch_size: Batch size.
        teacher_logits: Optional `(epochs, N, classes)` logits of the views:
            the elements are then `(view, (labels, teacher_logits))`.
        num_classes: Width of one-hot labels, needed when views are mixed and
            neither `y` is one-hot nor `teacher_logits` is given.
        shuffle: Whether each epoch's order is shuffled.
        seed: Seed of the shuffles.

    Returns:
        The dataset: `view`, `(view, labels)` or `(view, (labels, teacher_logits))`.
    """
    import tensorflow as tf

    check_positive_int(batch_size, "batch_size")
    images = np.asarray(x)
    squeeze = images.ndim == 3
    if squeeze:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            "`x` must hold images of shape (N, height, width[, channels]). "
            f"Received: x.shape={np.shape(x)}"
        )
    num_samples = len(images)
    _check_parameters(parameters, num_samples)
    epochs = parameters["row_shift"].shape[0]
    mixed = bool(np.any(parameters["partner"] != np.arange(num_samples)))
    labels = labels_for_augmented(y, num_samples, mixed, teacher_logits, num_classes)
    if teacher_logits is not None:
        teacher_logits = np.asarray(teacher_logits, dtype="float32")
        if teacher_logits.shape[:2] != (epochs, num_samples):
            raise ValueError(
                "`teacher_logits` must have shape (epochs, num_samples, classes) "
                f"= ({epochs}, {num_samples}, classes). Received: "
                f"{teacher_logits.shape}"
            )
    orders = np.stack(
        [
            np.random.default_rng([seed, epoch, 1]).permutation(num_samples)
            if shuffle
            else np.arange(num_samples)
            for epoch in range(epochs)
        ]
    ).astype(np.int32)

    images_tensor = tf.constant(images)
    parameter_tensors = {name: tf.constant(value) for name, value in parameters.items()}
    labels_tensor = None if labels is None else tf.constant(labels)
    logits_tensor = None if teacher_logits is None else tf.constant(teacher_logits)

    def epoch_batches(epoch):
        indices = tf.data.Dataset.from_tensor_slices(tf.gather(orders, epoch))
        return indices.batch(batch_size).map(lambda batch: (epoch, batch))

    def make_batch(epoch, indices):
        rows = {
            name: tf.gather(value[epoch], indices)
            for name, value in parameter_tensors.items()
        }
        logits = (
            None if logits_tensor is None else tf.gather(logits_tensor[epoch], indices)
        )
        return labelled_augmented_batch(
            images_tensor, labels_tensor, indices, rows, mixed, squeeze, logits
        )

    dataset = tf.data.Dataset.range(epochs).flat_map(epoch_batches)
    # Known length: with `steps_per_epoch`, Keras keeps one iterator across
    # epochs and starts it again after the last stored epoch.
    total_batches = epochs * batches.steps_per_epoch(num_samples, batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(total_batches))
    options = tf.data.Options()
    options.autotune.enabled = False  # see offline_dataset
    return (
        dataset.map(make_batch, num_parallel_calls=2).prefetch(2).with_options(options)
    )


def _check_parameters(parameters, num_samples):
    missing = set(PARAMETER_NAMES) - set(parameters)
    if missing:
        raise ValueError(
            "`parameters` must be the dict `AugmentationPlan.draw` returns. Missing: "
            f"{sorted(missing)}"
        )
    shape = parameters["row_shift"].shape
    if len(shape) != 2 or shape[1] != num_samples:
        raise ValueError(
            f"`parameters` were drawn for {shape[-1]} images; `x` holds "
            f"{num_samples}. Draw them with `plan.draw(len(x), ...)`."
        )


def labels_for_augmented(y, num_samples, mixed, teacher_logits=None, num_classes=None):
    """Labels as stored in the pipeline: one-hot `float32` rows if views mix.

    Args:
        y: Class ids or one-hot rows, one per image, or `None`.
        num_samples: The number of images.
        mixed: Whether any view mixes two images.
        teacher_logits: Logits whose last axis gives the number of classes.
        num_classes: Or that number.
    """
    if y is None:
        return None
    labels = np.asarray(y)
    if len(labels) != num_samples:
        raise ValueError(
            f"`y` must have one label per image ({num_samples}). Received: "
            f"len(y)={len(labels)}"
        )
    if not mixed or (labels.ndim == 2 and labels.shape[1] > 1):
        return labels.astype("float32") if mixed else labels
    if num_classes is None and teacher_logits is not None:
        num_classes = np.shape(teacher_logits)[-1]
    if num_classes is None:
        raise ValueError(
            "Mixed views need one-hot labels: pass `num_classes` (or one-hot `y`, "
            "or `teacher_logits`)."
        )
    class_ids = labels.reshape(-1).astype(np.int64)
    return np.eye(num_classes, dtype="float32")[class_ids]
