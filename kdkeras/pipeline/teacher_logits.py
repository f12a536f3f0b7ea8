"""The run's cache of the teacher's logits on the training split
(`models/teacher_logits.npz`), for offline distillation and the `auto`
settings: computed once, recomputed when stale."""

import os

from kdkeras.pipeline import folder_logits


def cached_teacher_logits(context, teacher):
    """The teacher's logits on the training split, from the run's cache.

    Of the training arrays when the data is in memory; of an image folder's
    training files in their fixed order (`folder_logits.ordered_batches`)
    otherwise, so each row stays with its image.
    """
    from kdkeras import offline

    data = context.data
    if data.in_memory:
        inputs = data.train[0]
    else:
        inputs = folder_logits.ordered_batches(data.train_files, data.input_shape)
    path = os.path.join(context.folder.directory("models"), "teacher_logits.npz")
    if os.path.exists(path):
        try:
            return offline.load_teacher_logits(path, inputs, teacher)
        except offline.StaleCacheError:
            context.log.info("  the teacher-logit cache is stale: recomputing it")
    return offline.cache_teacher_logits(
        teacher, inputs, path, overwrite=True, verbose=2
    )
