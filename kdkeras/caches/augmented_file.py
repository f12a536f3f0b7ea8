"""An augmentation-consistent logit cache: the teacher's logits of every
augmented image of every epoch.

For each of `epochs` epochs, every training image gets one augmented copy
(`kdkeras.augmentation.AugmentationPlan`: shifts, flips, mixup/cutmix pairs,
drawn as stored parameters); the teacher runs once over all of them. The
student later trains on exactly those images, paired with the logits the
teacher gave them, with no teacher in memory: function matching's long
schedules at the speed of plain training.

```python
plan = kdkeras.augmentation.AugmentationPlan(
    shift=2, horizontal_flip=True, mixup_alpha=0.2, seed=0
)
cache = kdkeras.caches.load_or_compute(
    "augmented/", teacher, x_train, plan=plan, epochs=30
)
distiller = kdkeras.Distiller(teacher=None, student=student, alpha=0.0)
distiller.compile(optimizer="adam", metrics=["accuracy"])
distiller.fit(
    cache.dataset(x_train, y_train, batch_size=128),
    epochs=cache.epochs,
    steps_per_epoch=cache.steps_per_epoch(len(x_train), 128),
)
```

Two stores, one API (`plan`, `epochs`, `top_k`, `dataset`, `steps_per_epoch`):

* a directory (any `path` not ending in `.npz`): the sharded logit format
  (`kdkeras.caches.sharded_augmented`), written and read batch by batch,
  so memory does not grow with `epochs × N`; the cache for data at scale;
* a `.npz` file (this module): an `AugmentedLogitCache` with every logit in
  memory, `(epochs, N, classes)`, as `compute_augmented_logits` returns it.

Size: `epochs * N * 4C` bytes of logits (40 B per image per epoch for 10
classes), or `epochs * N * (6k + 4)` with `top_k=k` (`kdkeras.caches.topk`),
plus 40 B of augmentation parameters per image per epoch.
"""

import json
import os

import numpy as np

from kdkeras import augmentation
from kdkeras.caches import (
    fingerprints,
    npz_files,
    sharded_augmented,
    stored_outputs,
    teacher_predictions,
    topk,
)
from kdkeras.io_utils import atomic_path
from kdkeras.validation import check_finite
from kdkeras.version import __version__

_FORMAT_VERSION = 1
_WRITER = "cache_augmented_logits"
_KIND = "augmented-view cache"


class AugmentedLogitCache(stored_outputs.TeacherOutputCache):
    """The teacher's logits for every view of every epoch, and the views' parameters.

    Attributes:
        plan: The `AugmentationPlan` the views were drawn with.
        parameters: `AugmentationPlan.draw(...)` output, `(epochs, N)` arrays.
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

    def bytes_per_augmented_image(self):
        """Stored logit bytes per image per epoch."""
        return topk.bytes_per_row(self.num_classes, self.top_k)

    def dataset(self, x, y, batch_size=32, shuffle=True, seed=0):
        """`augmentation.augmented_dataset`: `(images, (labels, teacher_logits))`
        batches."""
        return augmentation.augmented_dataset(
            x,
            y,
            self.parameters,
            batch_size=batch_size,
            teacher_logits=self.teacher_logits,
            shuffle=shuffle,
            seed=seed,
        )


def compute_augmented_logits(
    teacher, x, plan, epochs, batch_size=256, teacher_outputs="auto", verbose=0
):
    """Draws `epochs` views of every image and runs `teacher` on them.

    Args:
        teacher: A Keras model (logits or probabilities, see `kdkeras.Distiller`).
        x: Images, NumPy `(N, H, W[, C])`, as the teacher takes them.
        plan: A `AugmentationPlan`.
        epochs: Number of views per image.
        batch_size: Batch size of the teacher's forward passes.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        verbose: Verbosity of the teacher's `predict`.

    Returns:
        A `AugmentedLogitCache`.
    """
    images = augmentation.checked_images(x, plan, epochs)
    parameters = plan.draw(len(images), images.shape[1:3], epochs)
    per_epoch = []
    for epoch in range(epochs):
        epoch_parameters = {
            name: value[epoch : epoch + 1] for name, value in parameters.items()
        }
        epoch_views = augmentation.augmented_dataset(
            images, None, epoch_parameters, batch_size=batch_size, shuffle=False
        )
        per_epoch.append(
            teacher_predictions.compute_teacher_logits(
                teacher, epoch_views, teacher_outputs=teacher_outputs, verbose=verbose
            )
        )
    return AugmentedLogitCache(plan, parameters, np.stack(per_epoch))


def save_augmented_logits(path, cache, x, teacher, top_k=None, overwrite=False):
    """Writes an `AugmentedLogitCache` (atomically) with fingerprints of
    `teacher` and `x`.

    Args:
        path: The `.npz` file.
        cache: A `AugmentedLogitCache` for `x`.
        x: The images the views were drawn from.
        teacher: What produced the logits (see `caches.fingerprint_teacher`).
        top_k: Keep only the `k` largest logits of each view (and the rest's
            log-sum-exp); `None` keeps all.
        overwrite: Whether to replace an existing file.

    Returns:
        The cache as stored: `cache` itself, or with `top_k` a `AugmentedLogitCache`
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
                teacher_fingerprint=np.array(fingerprints.fingerprint_teacher(teacher)),
                data_fingerprint=np.array(fingerprints.fingerprint_data(x)),
                format_version=np.array(_FORMAT_VERSION),
                kdkeras_version=np.array(__version__),
                **arrays,
            )
    if top_k is None:
        return cache
    rebuilt_logits = topk.logits_from_top_k(values, classes, rest, cache.num_classes)
    return AugmentedLogitCache(
        cache.plan, cache.parameters, rebuilt_logits, top_k=top_k
    )


def cache_augmented_logits(
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
        path: A directory, for the sharded cache (`sharded_augmented`: written and
            read batch by batch), or a `.npz` file, for a cache held in memory
            (`compute_augmented_logits` then `save_augmented_logits`).
        plan: A `AugmentationPlan`.
        epochs: Number of views per image.
        batch_size: Views per teacher batch (and per stored record).
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        top_k: Keep only the `k` largest logits of each view (and the rest's
            log-sum-exp); `None` keeps all.
        overwrite: Whether to replace an existing cache at `path`.
        verbose: Verbosity of the teacher's passes.
        shard_size: Approximate bytes per shard file of a sharded cache.

    Returns:
        A `ShardedAugmentedCache` for a directory, an `AugmentedLogitCache`
        for a `.npz` file. Either holds what was stored (top-k logits rebuilt), so
        the student trains on the same targets now as after
        `load_augmented_logits`.
    """
    if top_k is not None:
        topk.check_top_k(top_k)
    if not npz_files.is_npz(path):
        return sharded_augmented.write_augmented_logits(
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
    cache = compute_augmented_logits(
        teacher,
        x,
        plan,
        epochs,
        batch_size=batch_size,
        teacher_outputs=teacher_outputs,
        verbose=verbose,
    )
    return save_augmented_logits(
        path, cache, x, teacher, top_k=top_k, overwrite=overwrite
    )


def load_augmented_logits(
    path, x, teacher=None, *, teacher_fingerprint=None, allow_any_teacher=False
):
    """Opens a view cache, refusing one made for other images or another teacher.

    As with `caches.load_teacher_logits`, say which teacher the logits must
    come from with exactly one of `teacher`, `teacher_fingerprint` or
    `allow_any_teacher=True`.

    Args:
        path: A directory or `.npz` file written by `cache_augmented_logits` (or
            a file by `save_augmented_logits`).
        x: The images the views must be drawn from.
        teacher: The teacher (model, estimator or string id) of the logits.
        teacher_fingerprint: Or its `caches.fingerprint_teacher`.
        allow_any_teacher: Or `True`, to check only the images.

    Returns:
        A `sharded_augmented.ShardedAugmentedCache` for a directory (the logits stay
        on disk), a `AugmentedLogitCache` for a `.npz` file.

    Raises:
        caches.StaleCacheError: If `x` or `teacher` differ from the stored
            fingerprints.
        ValueError: If `path` is not such a cache.
    """
    if os.path.isdir(path):
        return sharded_augmented.read_augmented_logits(
            path,
            x,
            teacher,
            teacher_fingerprint=teacher_fingerprint,
            allow_any_teacher=allow_any_teacher,
        )
    expected_teacher = fingerprints.expected_teacher_fingerprint(
        teacher, teacher_fingerprint, allow_any_teacher, caller="load_augmented_logits"
    )
    required = ["plan", "num_classes", "teacher_fingerprint", "data_fingerprint"]
    required += [f"view_{name}" for name in augmentation.PARAMETER_NAMES]
    stored = npz_files.read_cache_arrays(path, required, _WRITER, _KIND)
    fingerprints.check_fingerprints(
        path,
        _WRITER,
        stored_teacher=str(stored["teacher_fingerprint"]),
        expected_teacher=expected_teacher,
        stored_data=str(stored["data_fingerprint"]),
        data=x,
    )
    plan = augmentation.AugmentationPlan.from_config(json.loads(str(stored["plan"])))
    parameters = {name: stored[f"view_{name}"] for name in augmentation.PARAMETER_NAMES}
    num_classes = int(stored["num_classes"])
    if "teacher_logits" in stored:
        return AugmentedLogitCache(plan, parameters, stored["teacher_logits"])
    if not {"top_values", "top_classes", "rest_logsumexp"} <= set(stored):
        raise ValueError(f"{path!r} holds neither full nor top-k teacher logits.")
    logits = topk.logits_from_top_k(
        stored["top_values"],
        stored["top_classes"],
        stored["rest_logsumexp"],
        num_classes,
    )
    return AugmentedLogitCache(
        plan, parameters, logits, top_k=stored["top_values"].shape[-1]
    )
