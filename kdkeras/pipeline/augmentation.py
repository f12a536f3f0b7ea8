"""The students' augmented training views, the same in the scratch and the
distill stages.

With the training images in memory (a named data set or `.npz`), the views
of image `i` at epoch `e` are drawn from `[run.seed, e]` as stored
parameters (`kdkeras.distillation.views.ViewPlan`), so both students train
on exactly the same views, epoch by epoch, and offline distillation can
cache the teacher's logits of each of them (`kdkeras.distillation.view_cache`,
as a sharded directory: `cached_views_batches`). Online, the views come in
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

from kdkeras.distillation import views

VIEW_CACHE = "teacher_views"
"""The offline view cache's directory in the run folder's `models/`."""


def plan(config):
    """The run's `ViewPlan`, or `None` without augmentation."""
    if config.augmentation is None:
        return None
    return config.augmentation.plan(config.run.seed)


def views_batches(config, train, batch_size, epochs):
    """`(dataset, steps_per_epoch)`: the `(view, label)` batches of `epochs`
    epochs of the training arrays `train`."""
    x, y = train
    parameters = plan(config).draw(len(x), x.shape[1:3], epochs)
    dataset = views.views_dataset(
        x, y, parameters, batch_size=batch_size, seed=config.run.seed
    )
    return dataset, views.steps_per_epoch(len(x), batch_size)


def cached_views_batches(context, teacher, batch_size, epochs):
    """`(dataset, steps_per_epoch)` of `(view, (label, teacher_logits))`
    batches, the teacher's logits of every view cached in the run folder.

    The cache is the sharded, streamed one (`models/teacher_views/`,
    `kdkeras.distillation.sharded_views`): written batch by batch into a
    temporary directory renamed into place when complete, and read back
    epoch by epoch, so memory does not grow with `epochs × images`. A
    resumed run reuses a complete cache of the same teacher, images and
    views; a killed write left no cache to reuse.
    """
    from kdkeras.distillation import view_cache

    x, y = context.data.train
    directory = os.path.join(context.folder.directory("models"), VIEW_CACHE)
    cache = _reusable_view_cache(context, directory, teacher, epochs)
    if cache is None:
        context.log.info(
            "  computing the teacher's logits of %d views of %d images", epochs, len(x)
        )
        cache = view_cache.cache_teacher_views(
            teacher,
            x,
            directory,
            plan(context.config),
            epochs,
            overwrite=True,
            verbose=2,
        )
    dataset = cache.dataset(x, y, batch_size=batch_size, seed=context.config.run.seed)
    return dataset, cache.steps_per_epoch(len(x), batch_size)


def _reusable_view_cache(context, directory, teacher, epochs):
    """The view cache in `directory` if it holds this run's views, or `None`."""
    from kdkeras import offline
    from kdkeras.distillation import view_cache

    if not os.path.isdir(directory):
        return None
    try:
        cache = view_cache.load_teacher_views(directory, context.data.train[0], teacher)
    except offline.StaleCacheError:
        context.log.info("  the teacher-view cache is stale: recomputing it")
        return None
    except (OSError, ValueError) as error:
        context.log.info(
            "  the teacher-view cache is unreadable (%s): recomputing", error
        )
        return None
    if cache.plan != plan(context.config) or cache.epochs != epochs:
        context.log.info("  the teacher-view cache has other views: recomputing")
        return None
    return cache


def batch_augmentation(config, data):
    """The Keras layer that augments each batch of an image folder's
    training images, or `None` (no augmentation, or views in memory).

    A `keras.Sequential` of `RandomTranslation` (at most `shift` pixels up
    or down and left or right, nearest pixel, zero fill, as a `ViewPlan`
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
