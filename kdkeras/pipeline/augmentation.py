"""The students' augmented training views, the same in the scratch and the
distill stages.

The views of image `i` at epoch `e` are drawn from `[run.seed, e]` as stored
parameters (`kdkeras.distillation.views.ViewPlan`), so both students train
on exactly the same views in the same order, and offline distillation can
cache the teacher's logits of each of them
(`kdkeras.distillation.view_cache`).
"""

import os

from kdkeras.distillation import views


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
    batches, the teacher's logits of every view cached in the run folder."""
    from kdkeras import offline
    from kdkeras.distillation import view_cache

    x, y = context.data.train
    path = os.path.join(context.folder.directory("models"), "teacher_views.npz")
    cache = None
    if os.path.exists(path):
        try:
            cache = view_cache.load_teacher_views(path, x, teacher)
        except offline.StaleCacheError:
            context.log.info("  the teacher-view cache is stale: recomputing it")
        if cache is not None and (
            cache.plan != plan(context.config) or cache.epochs != epochs
        ):
            context.log.info("  the teacher-view cache has other views: recomputing")
            cache = None
    if cache is None:
        context.log.info(
            "  computing the teacher's logits of %d views of %d images", epochs, len(x)
        )
        cache = view_cache.cache_teacher_views(
            teacher, x, path, plan(context.config), epochs, overwrite=True, verbose=2
        )
    dataset = cache.dataset(x, y, batch_size=batch_size, seed=context.config.run.seed)
    return dataset, cache.steps_per_epoch(len(x), batch_size)
