"""The two entry points to every cache: `open_cache(path, ...)` reads one of
any format, and `load_or_compute(path, teacher, x, ...)` reads it when it is
this teacher's for this data (and these augmentations), and computes it
otherwise.

The path says the format: a `.npz` file holds the outputs in memory
(`LogitCache`, or `AugmentedLogitCache` with an augmentation plan); any
other path is a directory of shards read as a stream (`ShardedLogitCache`,
or `ShardedAugmentedCache`). All four share `epochs`, `steps_per_epoch` and
`dataset` (`kdkeras.caches.stored_outputs.TeacherOutputCache`).
"""

import os

from kdkeras.caches import (
    augmented_file,
    fingerprints,
    logit_file,
    npz_files,
    shard_files,
    sharded_augmented,
    sharded_logits,
    teacher_predictions,
)


def open_cache(
    path, x, teacher=None, *, teacher_fingerprint=None, allow_any_teacher=False
):
    """Opens a cache of teacher outputs of any format, checked against `x`.

    Say which teacher the outputs must come from with exactly one of
    `teacher`, `teacher_fingerprint` or `allow_any_teacher=True`.

    Args:
        path: A `.npz` file or a cache directory written by kdkeras.
        x: The inputs the cache must belong to (for an augmented cache, the
            images the augmentations were drawn from; for a sharded cache of
            a dataset, that dataset).
        teacher: The teacher (model, estimator or string id) of the outputs.
        teacher_fingerprint: Or its `fingerprint_teacher`.
        allow_any_teacher: Or `True`, to check only the data.

    Returns:
        A `LogitCache`, `ShardedLogitCache`, `AugmentedLogitCache` or
        `ShardedAugmentedCache`.

    Raises:
        FileNotFoundError: If `path` does not exist.
        StaleCacheError: If the cache is another teacher's or other data's.
        ValueError: If `path` is not a kdkeras cache, or is damaged.
    """
    who = dict(
        teacher=teacher,
        teacher_fingerprint=teacher_fingerprint,
        allow_any_teacher=allow_any_teacher,
    )
    if os.path.isdir(path):
        kind = shard_files.read_manifest_kind(path)
        if kind == "views":
            return sharded_augmented.read_augmented_logits(path, x, **who)
        return sharded_logits.open_sharded_logits(path, x, **who)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No cache at {os.fspath(path)!r}.")
    if npz_files.holds_array(path, "plan"):
        return augmented_file.load_augmented_logits(path, x, **who)
    return logit_file.open_logit_file(path, x, **who)


def load_or_compute(
    path,
    teacher,
    x,
    *,
    plan=None,
    epochs=None,
    top_k=None,
    batch_size=256,
    teacher_outputs="auto",
    verbose=0,
    log=None,
    feature_layers=None,
):
    """The cache at `path` if it holds this teacher's outputs for `x`, else
    computed (and written atomically) now.

    A cache of another teacher, of other data, of other augmentations or
    epochs, of another `top_k`, without the `feature_layers` asked for, or
    one that is unreadable or damaged (a killed write leaves none) is
    recomputed, and `log` says why.

    ```python
    # Streamed shards of the top-20 logits, the reason for any recompute logged.
    cache = kdkeras.caches.load_or_compute(
        "logits/", teacher, dataset, top_k=20, log=logging.getLogger("run").info
    )
    ```

    Args:
        path: A `.npz` file (outputs held in memory) or a directory (shards
            read as a stream, for data that do not fit in memory).
        teacher: A Keras model, or an estimator with `predict_proba`.
        x: Its inputs: arrays, or a batched `tf.data.Dataset` that yields
            the same batches in the same order every time; images
            `(N, H, W[, C])` with a `plan`.
        plan: An `kdkeras.augmentation.AugmentationPlan`: cache the logits of
            `epochs` augmented copies of every image (function matching),
            or `None` for the logits of `x` itself.
        epochs: Epochs of augmented images, with `plan`.
        top_k: Store only the `k` largest logits of each row (and the rest's
            log-sum-exp; `kdkeras.caches.topk`); a sharded or augmented
            cache only. `None` stores all.
        batch_size: Rows per teacher batch (and per stored record).
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"` for a
            Keras teacher (see `kdkeras.Distiller`).
        verbose: Verbosity of the teacher's passes.
        log: A function called with a `%`-format string and its arguments
            (e.g. `logging.getLogger(...).info`) when a cache is recomputed,
            or `None`.
        feature_layers: Names of a Keras teacher's layers whose outputs are
            stored beside the logits (`cache.teacher_features`), for feature
            methods trained offline (`Distiller(teacher=None,
            teacher_feature_shapes=cache.teacher_feature_shapes)`); a `.npz`
            path without `plan` only. `None` stores none.

    Returns:
        A `LogitCache`, `ShardedLogitCache`, `AugmentedLogitCache` or
        `ShardedAugmentedCache` (see `open_cache`).
    """
    if (plan is None) != (epochs is None):
        raise ValueError(
            "`plan` and `epochs` go together: an augmentation plan and its "
            f"number of epochs, or neither. Received: plan={plan!r}, "
            f"epochs={epochs!r}"
        )
    if plan is None and top_k is not None and npz_files.is_npz(path):
        raise ValueError(
            "`top_k` needs a sharded cache (a directory `path`) or an "
            f"augmentation `plan`; a `.npz` of logits stores all. Received: "
            f"path={os.fspath(path)!r}, top_k={top_k!r}"
        )
    if feature_layers is not None:
        feature_layers = teacher_predictions.layer_names(
            feature_layers, "feature_layers"
        )
        if plan is not None or not npz_files.is_npz(path):
            raise ValueError(
                "`feature_layers` needs a `.npz` cache without augmentation "
                "(the features are held in memory, one row per example). "
                f"Received: path={os.fspath(path)!r}, plan={plan!r}"
            )
    if os.path.exists(path):
        cache, reason = _stored_cache(
            path, teacher, x, plan, epochs, top_k, feature_layers
        )
        if reason is None:
            return cache
        if log is not None:
            log("  the teacher-output cache %s %s: recomputing it", path, reason)
    if log is not None:
        log("  computing the teacher's outputs into %s", path)
    if plan is not None:
        return augmented_file.cache_augmented_logits(
            teacher,
            x,
            path,
            plan,
            epochs,
            batch_size=batch_size,
            teacher_outputs=teacher_outputs,
            top_k=top_k,
            overwrite=True,
            verbose=verbose,
        )
    if npz_files.is_npz(path):
        return logit_file.compute_and_save(
            teacher,
            x,
            path,
            batch_size=batch_size,
            teacher_outputs=teacher_outputs,
            overwrite=True,
            verbose=verbose,
            feature_layers=feature_layers,
        )
    return sharded_logits.write_sharded_logits(
        teacher,
        x,
        path,
        batch_size=batch_size,
        top_k=top_k,
        teacher_outputs=teacher_outputs,
        overwrite=True,
    )


def _stored_cache(path, teacher, x, plan, epochs, top_k, feature_layers=None):
    """`(cache, None)` when the cache at `path` serves, else `(None, why)`."""
    try:
        cache = open_cache(path, x, teacher)
    except fingerprints.StaleCacheError as error:
        return None, f"is stale ({error})"
    except (OSError, ValueError) as error:
        return None, f"is unreadable ({error})"
    stored_plan = getattr(cache, "plan", None)
    if stored_plan != plan or (plan is not None and cache.epochs != epochs):
        return None, "holds other augmentations or epochs"
    if cache.top_k != top_k:
        return None, f"holds top_k={cache.top_k}, not {top_k}"
    stored_layers = sorted(cache.teacher_features or {})
    if feature_layers is not None and not set(feature_layers) <= set(stored_layers):
        return None, (
            f"holds the features of the teacher layers {stored_layers}, not "
            f"{sorted(feature_layers)}"
        )
    return cache, None
