"""Reproducible augmented views: the same view of image `i` at epoch `e`, always.

Function matching (Beyer et al. 2022, "Knowledge distillation: A good teacher
is patient and consistent", arXiv:2106.05237) trains the student for long on
aggressively augmented views, the teacher seeing *exactly* the student's view.
Online, that costs a teacher forward pass per step. With views that can be
replayed, the teacher's logits for every view can be computed once and stored
(`kdkeras.distillation.view_cache`), and the student trained later at the
speed of plain training.

A view is drawn by a `ViewPlan` as stored parameters, not as random ops, so
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
plan = kdkeras.distillation.views.ViewPlan(shift=2, horizontal_flip=True,
                                            mixup_alpha=0.2, seed=0)
parameters = plan.draw(len(x_train), x_train.shape[1:3], epochs=30)
dataset = views_dataset(x_train, y_train, parameters, batch_size=128)
student.fit(dataset, epochs=30, steps_per_epoch=steps_per_epoch(len(x_train), 128))
```
"""

import json
import math

import numpy as np

from kdkeras.validation import check_positive_int

# The per-view parameters a plan draws, each of shape (epochs, num_samples[, 4]).
PARAMETER_NAMES = (
    "row_shift",
    "col_shift",
    "flip",
    "partner",
    "mixup_weight",
    "box",
    "label_weight",
)


class ViewPlan:
    """How the augmented views of a data set are drawn, reproducibly.

    Args:
        shift: Largest shift, in pixels, up/down and left/right (zero fill).
        horizontal_flip: Whether half of the views are flipped left-right.
        mixup_alpha: `a` of mixup's `Beta(a, a)`; 0 turns mixup off.
        cutmix_alpha: `a` of cutmix's `Beta(a, a)`; 0 turns cutmix off. With
            both on, each mixed view uses one of them, at random.
        mix_probability: Fraction of views that are mixed (when mixup or
            cutmix is on).
        seed: The views of epoch `e` are drawn from `[seed, e]`.
    """

    def __init__(
        self,
        shift=2,
        horizontal_flip=True,
        mixup_alpha=0.0,
        cutmix_alpha=0.0,
        mix_probability=1.0,
        seed=0,
    ):
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)):
            raise TypeError(f"`shift` must be an int. Received: shift={shift!r}")
        if shift < 0:
            raise ValueError(f"`shift` must be >= 0. Received: shift={shift}")
        for name, value in (
            ("mixup_alpha", mixup_alpha),
            ("cutmix_alpha", cutmix_alpha),
        ):
            if not (
                isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
            ):
                raise ValueError(
                    f"`{name}` must be a finite number >= 0 (0 turns it off). "
                    f"Received: {name}={value!r}"
                )
        if not (
            isinstance(mix_probability, (int, float)) and 0 <= mix_probability <= 1
        ):
            raise ValueError(
                "`mix_probability` must be in [0, 1]. Received: "
                f"mix_probability={mix_probability!r}"
            )
        if (
            isinstance(seed, bool)
            or not isinstance(seed, (int, np.integer))
            or seed < 0
        ):
            raise ValueError(f"`seed` must be an int >= 0. Received: seed={seed!r}")
        self.shift = int(shift)
        self.horizontal_flip = bool(horizontal_flip)
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.mix_probability = float(mix_probability)
        self.seed = int(seed)

    def get_config(self):
        return {
            "shift": self.shift,
            "horizontal_flip": self.horizontal_flip,
            "mixup_alpha": self.mixup_alpha,
            "cutmix_alpha": self.cutmix_alpha,
            "mix_probability": self.mix_probability,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def to_json(self):
        return json.dumps(self.get_config(), sort_keys=True)

    def __eq__(self, other):
        return isinstance(other, ViewPlan) and other.get_config() == self.get_config()

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"ViewPlan({arguments})"

    @property
    def mixes(self):
        return self.mix_probability > 0 and (
            self.mixup_alpha > 0 or self.cutmix_alpha > 0
        )

    def draw(self, num_samples, image_size, epochs, first_epoch=0):
        """The parameters of every view, for `epochs` epochs.

        Args:
            num_samples: Number of images.
            image_size: `(height, width)` of the images.
            epochs: Number of epochs (views per image).
            first_epoch: The first epoch's index.

        Returns:
            A dict of NumPy arrays of shape `(epochs, num_samples)` (`box`:
            `(epochs, num_samples, 4)`), named as in `PARAMETER_NAMES`.
        """
        check_positive_int(num_samples, "num_samples")
        check_positive_int(epochs, "epochs")
        drawn = [
            self._draw_epoch(num_samples, image_size, first_epoch + epoch)
            for epoch in range(epochs)
        ]
        return {name: np.stack([d[name] for d in drawn]) for name in PARAMETER_NAMES}

    def _draw_epoch(self, num_samples, image_size, epoch):
        height, width = (int(size) for size in image_size)
        rng = np.random.default_rng([self.seed, epoch])
        row_shift, col_shift = rng.integers(
            -self.shift, self.shift + 1, size=(2, num_samples), dtype=np.int32
        )
        flip = rng.random(num_samples) < 0.5
        if not self.horizontal_flip:
            flip[:] = False
        partner = np.arange(num_samples, dtype=np.int32)
        mixup_weight = np.ones(num_samples, np.float32)
        box = np.zeros((num_samples, 4), np.int32)
        label_weight = np.ones(num_samples, np.float32)
        if self.mixes:
            mixed = rng.random(num_samples) < self.mix_probability
            partner = np.where(
                mixed, rng.integers(0, num_samples, num_samples), partner
            ).astype(np.int32)
            use_cutmix = self._choose_cutmix(rng, num_samples) & mixed
            use_mixup = mixed & ~use_cutmix
            if self.mixup_alpha > 0:
                weights = rng.beta(self.mixup_alpha, self.mixup_alpha, num_samples)
                mixup_weight[use_mixup] = weights[use_mixup]
                label_weight[use_mixup] = weights[use_mixup]
            if self.cutmix_alpha > 0:
                drawn_box = _cutmix_boxes(
                    rng, num_samples, height, width, self.cutmix_alpha
                )
                box[use_cutmix] = drawn_box[use_cutmix]
                top, left, bottom, right = box.T
                kept = 1.0 - (bottom - top) * (right - left) / (height * width)
                label_weight[use_cutmix] = kept[use_cutmix]
        return {
            "row_shift": row_shift,
            "col_shift": col_shift,
            "flip": flip.astype(np.int32),
            "partner": partner,
            "mixup_weight": mixup_weight,
            "box": box,
            "label_weight": label_weight,
        }

    def _choose_cutmix(self, rng, num_samples):
        if self.cutmix_alpha > 0 and self.mixup_alpha > 0:
            return rng.random(num_samples) < 0.5
        return np.full(num_samples, self.cutmix_alpha > 0)


def _cutmix_boxes(rng, num_samples, height, width, alpha):
    """`(top, left, bottom, right)` boxes covering `1 - Beta(a, a)` of the image."""
    area_kept = rng.beta(alpha, alpha, num_samples)
    ratio = np.sqrt(1.0 - area_kept)
    box_height, box_width = (ratio * height).astype(int), (ratio * width).astype(int)
    center_row = rng.integers(0, height, num_samples)
    center_col = rng.integers(0, width, num_samples)
    top = np.clip(center_row - box_height // 2, 0, height)
    bottom = np.clip(center_row + box_height // 2, 0, height)
    left = np.clip(center_col - box_width // 2, 0, width)
    right = np.clip(center_col + box_width // 2, 0, width)
    return np.stack([top, left, bottom, right], axis=1).astype(np.int32)


def render_views(images, partner_images, parameters):
    """The views of a batch: mix with the partners, then shift and flip.

    Args:
        images: `(batch, height, width, channels)` tensor.
        partner_images: The partners' images, same shape.
        parameters: A dict of `(batch,)` tensors (`box`: `(batch, 4)`), one
            epoch's rows of `ViewPlan.draw`.

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


def steps_per_epoch(num_samples, batch_size):
    """Batches per epoch of `views_dataset` (the last one may be smaller)."""
    return math.ceil(num_samples / batch_size)


def views_dataset(
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
        parameters: `ViewPlan.draw(...)` for these images.
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
    labels = _labels_for_views(y, num_samples, mixed, teacher_logits, num_classes)
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
        partners = rows["partner"]
        views = render_views(
            tf.gather(images_tensor, indices), tf.gather(images_tensor, partners), rows
        )
        if squeeze:
            views = views[..., 0]
        if labels_tensor is None:
            return views
        batch_labels = tf.gather(labels_tensor, indices)
        if mixed:
            weight = rows["label_weight"][:, None]
            batch_labels = weight * batch_labels + (1.0 - weight) * tf.gather(
                labels_tensor, partners
            )
        if logits_tensor is None:
            return views, batch_labels
        return views, (batch_labels, tf.gather(logits_tensor[epoch], indices))

    dataset = tf.data.Dataset.range(epochs).flat_map(epoch_batches)
    # Known length: with `steps_per_epoch`, Keras keeps one iterator across
    # epochs and starts it again after the last stored epoch.
    total_batches = epochs * steps_per_epoch(num_samples, batch_size)
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
            "`parameters` must be the dict `ViewPlan.draw` returns. Missing: "
            f"{sorted(missing)}"
        )
    shape = parameters["row_shift"].shape
    if len(shape) != 2 or shape[1] != num_samples:
        raise ValueError(
            f"`parameters` were drawn for {shape[-1]} images; `x` holds "
            f"{num_samples}. Draw them with `plan.draw(len(x), ...)`."
        )


def _labels_for_views(y, num_samples, mixed, teacher_logits, num_classes):
    """Labels as stored in the pipeline: one-hot `float32` rows if views mix."""
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
