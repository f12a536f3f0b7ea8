"""An augmentation-consistent logit cache: the teacher's logits for E views.

For each of `epochs` epochs, every training image gets one augmented view
(`kdkeras.distillation.views.ViewPlan`: shifts, flips, mixup/cutmix pairs,
drawn as stored parameters); the teacher runs once over all of them. The
student later trains on exactly those views, paired with the logits the
teacher gave them, with no teacher in memory: function matching's long
schedules at the speed of plain training.

```python
from kdkeras.distillation import view_cache, views

plan = views.ViewPlan(shift=2, horizontal_flip=True, mixup_alpha=0.2, seed=0)
cache = view_cache.cache_teacher_views(teacher, x_train, "views/", plan, epochs=30)
fp = kdkeras.offline.fingerprint_teacher(teacher)  # a string to keep
# later, in another process:
cache = view_cache.load_teacher_views("views/", x_train, teacher_fingerprint=fp)
distiller = kdkeras.Distiller(teacher=None, student=student, alpha=0.0)
distiller.compile(optimizer="adam", metrics=["accuracy"])
distiller.fit(cache.dataset(x_train, y_train, batch_size=128), epochs=cache.epochs,
              steps_per_epoch=cache.steps_per_epoch(len(x_train), 128))
```

Two stores, one API (`plan`, `epochs`, `top_k`, `dataset`, `steps_per_epoch`):

* a directory (any `path` not ending in `.npz`): the sharded logit format
  (`kdkeras.distillation.sharded_views`), written and read batch by batch,
  so memory does not grow with `epochs × N`; the cache for data at scale;
* a `.npz` file: a `ViewCache` with every logit in memory, `(epochs, N,
  classes)`, as `compute_teacher_views` returns it.

Size: `epochs * N * 4C` bytes of logits (40 B per image per epoch for 10
classes), or `epochs * N * (6k + 4)` with `top_k=k` (`kdkeras.distillation.topk`),
plus 40 B of view parameters per image per epoch.
"""

import json
import os

import numpy as np

from kdkeras.distillation import offline, sharded_views, topk, views
from kdkeras.io_utils import atomic_path
from kdkeras.validation import check_finite
from kdkeras.version import __version__

_FORMAT_VERSION = 1
_WRITER = "cache_teacher_views"
_KIND = "augmented-view cache"


class ViewCache:
    """The teacher's logits for every view of every epoch, and the views' parameters.

    Attributes:
        plan: The `ViewPlan` the views were drawn with.
        parameters: `ViewPlan.draw(...)` output, `(epochs, N)` arrays.
        teacher_logits: `float32` `(epochs, N, classes)` (rebuilt from top-k
            when stored so).
        top_k: The number of logits stored per view, or `None` for all.
    """

    def __init__(self, plan, parameters, teacher_logits, top_k=None):
        self.plan = plan
        self.parameters = parameters
        self.teacher_logits = np.asarray(teacher_logits, "float32")
        self.top_k = top_k

    @property
    def epochs(self):
        return self.teacher_logits.shape[0]

    @property
    def num_samples(self):
        return self.teacher_logits.shape[1]

    @property
    def num_classes(self):
        return self.teacher_logits.shape[2]

    def bytes_per_view(self):
        """Stored logit bytes per image per epoch."""
        return topk.bytes_per_row(self.num_classes, self.top_k)

    def steps_per_epoch(self, num_samples, batch_size):
        return views.steps_per_epoch(num_samples, batch_size)

    def dataset(self, x, y, batch_size=32, shuffle=True, seed=0):
        """`views.views_dataset` of `(view, (labels, teacher_logits))` batches."""
        return views.views_dataset(
            x,
            y,
            self.parameters,
            batch_size=batch_size,
            teacher_logits=self.teacher_logits,
            shuffle=shuffle,
            seed=seed,
        )


def compute_teacher_views(
    teacher, x, plan, epochs, batch_size=256, teacher_outputs="auto", verbose=0
):
    """Draws `epochs` views of every image and runs `teacher` on them.

    Args:
        teacher: A Keras model (logits or probabilities, see `kdkeras.Distiller`).
        x: Images, NumPy `(N, H, W[, C])`, as the teacher takes them.
        plan: A `ViewPlan`.
        epochs: Number of views per image.
        batch_size: Batch size of the teacher's forward passes.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        verbose: Verbosity of the teacher's `predict`.

    Returns:
        A `ViewCache`.
    """
    images = sharded_views.checked_images(x, plan, epochs)
    parameters = plan.draw(len(images), images.shape[1:3], epochs)
    per_epoch = []
    for epoch in range(epochs):
        epoch_parameters = {
            name: value[epoch : epoch + 1] for name, value in parameters.items()
        }
        epoch_views = views.views_dataset(
            images, None, epoch_parameters, batch_size=batch_size, shuffle=False
        )
        per_epoch.append(
            offline.compute_teacher_logits(
                teacher, epoch_views, teacher_outputs=teacher_outputs, verbose=verbose
            )
        )
    return ViewCache(plan, parameters, np.stack(per_epoch))


def save_teacher_views(path, cache, x, teacher, top_k=None, overwrite=False):
    """Writes a `ViewCache` (atomically) with fingerprints of `teacher` and `x`.

    Args:
        path: The `.npz` file.
        cache: A `ViewCache` for `x`.
        x: The images the views were drawn from.
        teacher: What produced the logits (see `offline.fingerprint_teacher`).
        top_k: Keep only the `k` largest logits of each view (and the rest's
            log-sum-exp); `None` keeps all.
        overwrite: Whether to replace an existing file.

    Returns:
        The cache as stored: `cache` itself, or with `top_k` a `ViewCache`
        of the logits rebuilt from the stored top-k values.
    """
    if len(x) != cache.num_samples:
        raise ValueError(
            f"`x` holds {len(x)} images; the cache was made for {cache.num_samples}."
        )
    check_finite(cache.teacher_logits, "teacher_logits")
    arrays = {f"view_{name}": value for name, value in cache.parameters.items()}
    if top_k is None:
        arrays["teacher_logits"] = cache.teacher_logits
    else:
        values, classes, rest = topk.top_k_logits(cache.teacher_logits, top_k)
        arrays.update(top_values=values, top_classes=classes, rest_logsumexp=rest)
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        with open(temporary_path, "wb") as file:
            np.savez_compressed(
                file,
                plan=np.array(cache.plan.to_json()),
                num_classes=np.array(cache.num_classes),
                teacher_fingerprint=np.array(offline.fingerprint_teacher(teacher)),
                data_fingerprint=np.array(offline.fingerprint_data(x)),
                format_version=np.array(_FORMAT_VERSION),
                kdkeras_version=np.array(__version__),
                **arrays,
            )
    if top_k is None:
        return cache
    rebuilt_logits = topk.logits_from_top_k(values, classes, rest, cache.num_classes)
    return ViewCache(cache.plan, cache.parameters, rebuilt_logits, top_k=top_k)


def cache_teacher_views(
    teacher,
    x,
    path,
    plan,
    epochs,
    batch_size=256,
    teacher_outputs="auto",
    top_k=None,
    overwrite=False,
    verbose=0,
    shard_size=64 * 2**20,
):
    """Runs `teacher` on `epochs` views of every image of `x` and stores the logits.

    Args:
        teacher: A Keras model (logits or probabilities, see `kdkeras.Distiller`).
        x: Images, NumPy `(N, H, W[, C])`, as the teacher takes them.
        path: A directory, for the sharded cache (`sharded_views`: written and
            read batch by batch), or a `.npz` file, for a cache held in memory
            (`compute_teacher_views` then `save_teacher_views`).
        plan: A `ViewPlan`.
        epochs: Number of views per image.
        batch_size: Views per teacher batch (and per stored record).
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        top_k: Keep only the `k` largest logits of each view (and the rest's
            log-sum-exp); `None` keeps all.
        overwrite: Whether to replace an existing cache at `path`.
        verbose: Verbosity of the teacher's passes.
        shard_size: Approximate bytes per shard file of a sharded cache.

    Returns:
        A `sharded_views.ShardedViewCache` for a directory, a `ViewCache` for
        a `.npz` file. Either holds what was stored (top-k logits rebuilt), so
        the student trains on the same targets now as after
        `load_teacher_views`.
    """
    if top_k is not None:
        topk.check_top_k(top_k)
    if not _is_npz(path):
        return sharded_views.write_teacher_views(
            teacher,
            x,
            path,
            plan,
            epochs,
            batch_size=batch_size,
            teacher_outputs=teacher_outputs,
            top_k=top_k,
            shard_size=shard_size,
            overwrite=overwrite,
            verbose=verbose,
        )
    cache = compute_teacher_views(
        teacher,
        x,
        plan,
        epochs,
        batch_size=batch_size,
        teacher_outputs=teacher_outputs,
        verbose=verbose,
    )
    return save_teacher_views(path, cache, x, teacher, top_k=top_k, overwrite=overwrite)


def load_teacher_views(
    path, x, teacher=None, *, teacher_fingerprint=None, allow_any_teacher=False
):
    """Opens a view cache, refusing one made for other images or another teacher.

    As with `offline.load_teacher_logits`, say which teacher the logits must
    come from with exactly one of `teacher`, `teacher_fingerprint` or
    `allow_any_teacher=True`.

    Args:
        path: A directory or `.npz` file written by `cache_teacher_views` (or
            a file by `save_teacher_views`).
        x: The images the views must be drawn from.
        teacher: The teacher (model, estimator or string id) of the logits.
        teacher_fingerprint: Or its `offline.fingerprint_teacher`.
        allow_any_teacher: Or `True`, to check only the images.

    Returns:
        A `sharded_views.ShardedViewCache` for a directory (the logits stay
        on disk), a `ViewCache` for a `.npz` file.

    Raises:
        offline.StaleCacheError: If `x` or `teacher` differ from the stored
            fingerprints.
        ValueError: If `path` is not such a cache.
    """
    if os.path.isdir(path):
        return sharded_views.read_teacher_views(
            path,
            x,
            teacher,
            teacher_fingerprint=teacher_fingerprint,
            allow_any_teacher=allow_any_teacher,
        )
    expected_teacher = offline.expected_teacher_fingerprint(
        teacher, teacher_fingerprint, allow_any_teacher, caller="load_teacher_views"
    )
    required = ["plan", "num_classes", "teacher_fingerprint", "data_fingerprint"]
    required += [f"view_{name}" for name in views.PARAMETER_NAMES]
    stored = offline.read_cache_arrays(path, required, _WRITER, _KIND)
    if offline.fingerprint_data(x) != str(stored["data_fingerprint"]):
        raise offline.StaleCacheError(
            f"The cache {path!r} was made for other images than `x`. Recompute "
            f"it with `{_WRITER}(..., overwrite=True)`."
        )
    if expected_teacher is not None and expected_teacher != str(
        stored["teacher_fingerprint"]
    ):
        raise offline.StaleCacheError(
            f"The cache {path!r} was made by another teacher. Recompute it with "
            f"`{_WRITER}(..., overwrite=True)`."
        )
    plan = views.ViewPlan.from_config(json.loads(str(stored["plan"])))
    parameters = {name: stored[f"view_{name}"] for name in views.PARAMETER_NAMES}
    num_classes = int(stored["num_classes"])
    if "teacher_logits" in stored:
        return ViewCache(plan, parameters, stored["teacher_logits"])
    if not {"top_values", "top_classes", "rest_logsumexp"} <= set(stored):
        raise ValueError(f"{path!r} holds neither full nor top-k teacher logits.")
    logits = topk.logits_from_top_k(
        stored["top_values"],
        stored["top_classes"],
        stored["rest_logsumexp"],
        num_classes,
    )
    return ViewCache(plan, parameters, logits, top_k=stored["top_values"].shape[-1])


def _is_npz(path):
    return os.fspath(path).lower().endswith(".npz")
