"""The students' augmented training views, the same in the scratch and the
distill stages.

With the training images in memory (a named data set or `.npz`), the views
of image `i` at epoch `e` are drawn from `[run.seed, e]` as stored
parameters (`kdkeras.augmentation.rendering.AugmentationPlan`), so both students train
on exactly the same views, epoch by epoch, and offline distillation can
cache the teacher's logits of each of them (`kdkeras.caches.augmented_file`,
as a sharded directory: `cached_augmented_array_batches`). Online, the views come in
the scratch stage's order; offline, each epoch's views are read in image
order from the cache and shuffled within its reader's buffer (10,000 views;
the training arrays are already in a seeded random order).

An image folder never sits in memory as one array, so its batches are
augmented as they stream by Keras' own preprocessing layers
(`batch_augmentation`): in the scratch stage's `tf.data` pipeline, and in
the distill stage by the `Distiller` (its `augmentation`, applied once per
batch before the teacher and the student see it). Both students then see
views drawn from the same shifts and flips, seeded by `run.seed`, though not
the same view of an image at the same step.
"""

import os

import keras

from kdkeras import augmentation, batches

AUGMENTED_CACHE = "teacher_augmented_logits"
"""The offline augmented-logit cache's directory in the run folder's `models/`."""


def plan(config):
    """The run's `AugmentationPlan`, or `None` without augmentation."""
    if config.augmentation is None:
        return None
    return config.augmentation.plan(config.run.seed)


def augmented_array_batches(config, train, batch_size, epochs):
    """`(dataset, steps_per_epoch)`: the `(view, label)` batches of `epochs`
    epochs of the training arrays `train`."""
    x, y = train
    parameters = plan(config).draw(len(x), x.shape[1:3], epochs)
    dataset = augmentation.augmented_dataset(
        x, y, parameters, batch_size=batch_size, seed=config.run.seed
    )
    return dataset, batches.steps_per_epoch(len(x), batch_size)


def cached_augmented_array_batches(context, teacher, batch_size, epochs):
    """`(dataset, steps_per_epoch)` of `(image, (label, teacher_logits))`
    batches, the teacher's logits of every augmented image cached in the run
    folder (`kdkeras.caches.load_or_compute`).

    The cache is the sharded, streamed one (`models/teacher_augmented_logits/`,
    `kdkeras.caches.sharded_augmented`): written batch by batch into a
    temporary directory renamed into place when complete, and read back
    epoch by epoch, so memory does not grow with `epochs × images`. A
    resumed run reuses a complete cache of the same teacher, images and
    augmentations; a killed write left no cache to reuse.
    """
    from kdkeras import caches

    x, y = context.data.train
    directory = os.path.join(context.folder.directory("models"), AUGMENTED_CACHE)
    cache = caches.load_or_compute(
        directory,
        teacher,
        x,
        plan=plan(context.config),
        epochs=epochs,
        verbose=2,
        log=context.log.info,
    )
    dataset = cache.dataset(x, y, batch_size=batch_size, seed=context.config.run.seed)
    return dataset, cache.steps_per_epoch(len(x), batch_size)


def batch_augmentation(config, data):
    """The Keras layer that augments each batch of an image folder's
    training images, or `None` (no augmentation, or views in memory).

    A `keras.Sequential` of `RandomTranslation` (at most `shift` pixels up
    or down and left or right, nearest pixel, zero fill, as a `AugmentationPlan`
    shifts) and `RandomFlip("horizontal")`, each seeded by `run.seed`.

    Args:
        config: The `RunConfig`.
        data: The `RunData`.
    """
    section = config.augmentation
    if section is None or data.in_memory:
        return None
    height, width = data.input_shape[:2]
    seed = config.run.seed
    layers = []
    if section.shift:
        layers.append(
            keras.layers.RandomTranslation(
                height_factor=section.shift / height,
                width_factor=section.shift / width,
                fill_mode="constant",
                interpolation="nearest",
                fill_value=0.0,
                seed=seed,
            )
        )
    if section.horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if not layers:
        return None
    return keras.Sequential(layers, name="augmentation")


def augmented_batches(batches, augmentation):
    """`(images, labels)` batches with `augmentation` (a `batch_augmentation`
    layer) applied to the images, in training mode."""

    def augment(images, labels):
        # Layer by layer: Keras' preprocessing layers run in tf.data on any
        # backend, a `Sequential` of them only on TensorFlow's.
        for layer in augmentation.layers:
            images = layer(images, training=True)
        return images, labels

    return batches.map(augment)
