"""The training images of `tools/train_teacher.py`: shuffled, augmented batches.

Random shifts (zero-pad `pad` pixels, crop back at a random offset),
horizontal flips of half the images and random erasing (one rectangle of
noise), batched in `tf.data`, so the trained model contains no augmentation.
"""

import math

import numpy as np
from teacher_models import NUM_CLASSES


def _augment(images, labels, pad, erase_probability):
    """Batched augmentation on uint8 `(B, 28, 28, 1)` images, in TensorFlow."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    size = 28
    # Random shift: zero-pad, then crop a 28x28 window at a random offset.
    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    offsets = tf.random.uniform((batch, 2), 0, 2 * pad + 1, dtype=tf.int32)
    grid = tf.range(size)
    rows = offsets[:, :1] + grid[None, :]
    cols = offsets[:, 1:] + grid[None, :]
    x = tf.gather(padded, rows, axis=1, batch_dims=1)
    x = tf.gather(x, cols, axis=2, batch_dims=1)
    # Horizontal flip, half of the images.
    flip = tf.random.uniform((batch, 1, 1, 1)) < 0.5
    x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    # Random erasing: one rectangle (2-40 % of the area, aspect 0.3-3.3) of
    # uniform noise, with probability `erase_probability`.
    area = tf.random.uniform((batch,), 0.02, 0.4) * size * size
    log_ratio = tf.random.uniform((batch,), math.log(0.3), math.log(1 / 0.3))
    ratio = tf.exp(log_ratio)
    height = tf.clip_by_value(tf.sqrt(area * ratio), 1.0, float(size))
    width = tf.clip_by_value(tf.sqrt(area / ratio), 1.0, float(size))
    top = tf.random.uniform((batch,)) * (size - height)
    left = tf.random.uniform((batch,)) * (size - width)
    coords = tf.cast(grid, tf.float32)
    inside_rows = (coords[None, :] >= top[:, None]) & (
        coords[None, :] < (top + height)[:, None]
    )
    inside_cols = (coords[None, :] >= left[:, None]) & (
        coords[None, :] < (left + width)[:, None]
    )
    erase = tf.random.uniform((batch,)) < erase_probability
    mask = inside_rows[:, :, None] & inside_cols[:, None, :] & erase[:, None, None]
    noise = tf.random.uniform(tf.shape(x), 0, 256, dtype=tf.int32)
    x = tf.where(mask[..., None], tf.cast(noise, x.dtype), x)
    return x, labels


def make_train_dataset(x, y, batch_size, seed, pad=2, erase_probability=0.5):
    """Shuffled, augmented batches of uint8 images and one-hot labels."""
    import tensorflow as tf

    y_onehot = np.eye(NUM_CLASSES, dtype="float32")[y]
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y_onehot))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .map(
            lambda a, b: _augment(a, b, pad, erase_probability),
            num_parallel_calls=2,
        )
        .prefetch(2)
    )
    options = tf.data.Options()
    # tf.data autotuning sometimes blocks at the end of an epoch on this
    # TensorFlow (docs/benchmarks.md, "Training speed"); the data are in
    # memory anyway.
    options.autotune.enabled = False
    return dataset.with_options(options)
