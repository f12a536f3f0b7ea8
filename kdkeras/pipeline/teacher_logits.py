"""The teacher's signal for offline distillation in `kdkeras run`: its logits
on the training split, from the run's cache (`models/teacher_logits.npz`, or
with augmentation `models/teacher_augmented_logits/`), computed once through
`kdkeras.caches.load_or_compute` and recomputed when stale. With
`distill.features`, the cache also holds the outputs of the teacher layers
they name, so the feature methods train offline too."""

import os

from kdkeras.pipeline import folder_logits, training_augmentation


def cached_teacher_logits(context, teacher):
    """The teacher's logits on the training split, from the run's cache.

    Of the training arrays when the data is in memory; of an image folder's
    training files in their fixed order (`folder_logits.ordered_batches`)
    otherwise, so each row stays with its image.
    """
    return _logit_cache(context, teacher).teacher_logits


def offline_training_batches(context, teacher, batch_size, epochs):
    """`(batches, steps_per_epoch, teacher_feature_shapes)`: the batches the
    offline distill stage trains on (`steps_per_epoch` is `None` where one
    pass over the batches is an epoch) and, with `distill.features`, the
    shapes of the stored teacher features (`Distiller(teacher_feature_shapes=
    ...)`), else `None`.

    With augmentation, the teacher's logits of every augmented image of every
    epoch; otherwise its logits of the training split, zipped with the arrays
    or, for an image folder, with the files in their cached order. With
    `distill.features` (training arrays in memory, no augmentation: the
    config refuses the others), `(inputs, (labels, teacher_logits,
    teacher_features))`, and each example's index where a method needs it
    (`crd`).
    """
    config, data = context.config, context.data
    if config.augmentation is not None:
        batches, steps = training_augmentation.cached_augmented_array_batches(
            context, teacher, batch_size, epochs
        )
        return batches, steps, None
    features = config.distill.features
    feature_layers = [feature.teacher_layer for feature in features] or None
    cache = _logit_cache(context, teacher, feature_layers)
    if data.in_memory:
        x, y = data.train
        batches = cache.dataset(
            x,
            y,
            batch_size=batch_size,
            seed=config.run.seed,
            example_index=any(feature.needs_example_index for feature in features),
        )
        return batches, None, cache.teacher_feature_shapes
    batches = folder_logits.offline_batches(
        data.train_files,
        data.input_shape,
        cache.teacher_logits,
        batch_size,
        config.run.seed,
    )
    return batches, None, None


def _logit_cache(context, teacher, feature_layers=None):
    from kdkeras import caches

    data = context.data
    if data.in_memory:
        inputs = data.train[0]
    else:
        inputs = folder_logits.ordered_batches(data.train_files, data.input_shape)
    path = os.path.join(context.folder.directory("models"), "teacher_logits.npz")
    return caches.load_or_compute(
        path,
        teacher,
        inputs,
        verbose=2,
        log=context.log.info,
        feature_layers=feature_layers,
    )
