"""The teacher's signal for offline distillation in `kdkeras run`: its logits
on the training split, from the run's cache (`models/teacher_logits.npz`, or
with augmentation `models/teacher_augmented_logits/`), computed once through
`kdkeras.caches.load_or_compute` and recomputed when stale."""

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
    """`(batches, steps_per_epoch)`: the `(inputs, (labels, teacher_logits))`
    batches the offline distill stage trains on (`steps_per_epoch` is `None`
    where one pass over the batches is an epoch).

    With augmentation, the teacher's logits of every augmented image of every
    epoch; otherwise its logits of the training split, zipped with the arrays
    or, for an image folder, with the files in their cached order.
    """
    config, data = context.config, context.data
    if config.augmentation is not None:
        return training_augmentation.cached_augmented_array_batches(
            context, teacher, batch_size, epochs
        )
    cache = _logit_cache(context, teacher)
    if data.in_memory:
        x, y = data.train
        return cache.dataset(x, y, batch_size=batch_size, seed=config.run.seed), None
    batches = folder_logits.offline_batches(
        data.train_files,
        data.input_shape,
        cache.teacher_logits,
        batch_size,
        config.run.seed,
    )
    return batches, None


def _logit_cache(context, teacher):
    from kdkeras import caches

    data = context.data
    if data.in_memory:
        inputs = data.train[0]
    else:
        inputs = folder_logits.ordered_batches(data.train_files, data.input_shape)
    path = os.path.join(context.folder.directory("models"), "teacher_logits.npz")
    return caches.load_or_compute(
        path, teacher, inputs, verbose=2, log=context.log.info
    )
