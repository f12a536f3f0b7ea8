"""Offline distillation from an image folder: the teacher's logits cached
once, each row kept with its image on every epoch.

`keras.utils.image_dataset_from_directory` reads a training split in a new
order on every pass, so a cache written in one pass cannot be zipped with
the next. Here the split's files (`file_paths`, in the order Keras split
them) are read in that fixed order to cache the logits; to train, the
`(path, label)` pairs are zipped with their logits rows *before* the
shuffle, as Keras itself shuffles paths before it loads images, so a row
moves with its image. Images are decoded and resized as Keras does
(`tf.image.decode_image`, bilinear `tf.image.resize`).
"""

import os


def file_labels(file_paths, directory, class_names):
    """The class id of each file: the class folder it is under."""
    return [
        class_names.index(os.path.relpath(path, directory).split(os.sep)[0])
        for path in file_paths
    ]


def _load_image(path, input_shape):
    import tensorflow as tf

    height, width, channels = input_shape
    image = tf.io.read_file(path)
    image = tf.image.decode_image(image, channels=channels, expand_animations=False)
    image = tf.image.resize(image, (height, width), method="bilinear")
    image.set_shape((height, width, channels))
    return image


def ordered_batches(train_files, input_shape, batch_size=256):
    """The training images and labels, batched, in the files' fixed order."""
    import tensorflow as tf

    paths, labels = train_files
    dataset = tf.data.Dataset.from_tensor_slices((list(paths), list(labels)))
    return dataset.map(
        lambda path, label: (_load_image(path, input_shape), label),
        num_parallel_calls=2,
    ).batch(batch_size)


def offline_batches(train_files, input_shape, teacher_logits, batch_size, seed):
    """`(images, (labels, teacher_logits))` batches, reshuffled every epoch.

    Args:
        train_files: `(paths, labels)` of the training split.
        input_shape: `(height, width, channels)` of the images.
        teacher_logits: One row per file, in the order of `paths`.
        batch_size: Examples per batch.
        seed: Seed of the shuffle.
    """
    import tensorflow as tf

    paths, labels = train_files
    if len(teacher_logits) != len(paths):
        raise ValueError(
            f"`teacher_logits` must have one row per training image "
            f"({len(paths)}). Received: {len(teacher_logits)} rows"
        )
    dataset = tf.data.Dataset.from_tensor_slices(
        ((list(paths), list(labels)), teacher_logits)
    ).shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    return (
        dataset.map(
            lambda files, logits: (
                _load_image(files[0], input_shape),
                (files[1], logits),
            ),
            num_parallel_calls=2,
        )
        .batch(batch_size)
        .prefetch(2)
    )
