"""Offline distillation: run the teacher once, store its logits, train from them.

The stored file is a NumPy `.npz` (read with `allow_pickle=False`) holding the
logits and fingerprints of the teacher and of the data, so a cache made by
another teacher or for other data is refused instead of silently used.

```python
logits = kdkeras.caches.cache_teacher_logits(teacher, x_train, "teacher.npz")
fingerprint = kdkeras.caches.fingerprint_teacher(teacher)  # a string to keep
# later, perhaps in another process, with no teacher in memory:
logits = kdkeras.caches.load_teacher_logits(
    "teacher.npz", x_train, teacher_fingerprint=fingerprint
)
dataset = kdkeras.caches.offline_dataset(x_train, y_train, logits, batch_size=64)
distiller = kdkeras.Distiller(teacher=None, student=student)
distiller.compile(optimizer="adam", metrics=["accuracy"])
distiller.fit(dataset, epochs=3)
```

With `feature_layers`, the file also holds the outputs of those teacher
layers (`compute_teacher_features`), so that feature methods (RKD, PKT,
CRD, hints) train offline too:

```python
cache = kdkeras.caches.load_or_compute(
    "teacher.npz", teacher, x_train, feature_layers=["pool"]
)
distiller = kdkeras.Distiller(
    teacher=None,
    student=student,
    features=[kdkeras.losses.get("rkd", teacher_layer="pool", student_layer="pool")],
    teacher_feature_shapes=cache.teacher_feature_shapes,
)
distiller.fit(cache.dataset(x_train, y_train, batch_size=128), epochs=5)
```
"""

import os

import numpy as np

from kdkeras.caches import fingerprints, npz_files, stored_outputs, teacher_predictions
from kdkeras.io_utils import atomic_path
from kdkeras.validation import check_class_labels, check_finite, check_positive_int
from kdkeras.validation.labels import remember_checked_labels
from kdkeras.version import __version__

_FORMAT_VERSION = 1
_WRITER = "cache_teacher_logits"


class LogitCache(stored_outputs.TeacherOutputCache):
    """The teacher's logits of every example, held in memory (one epoch).

    Made by `cache_teacher_logits`, `open_cache` or `load_or_compute` for a
    `.npz` path.

    Attributes:
        teacher_logits: `float32` `(num_samples, num_classes)`.
        path: The `.npz` file it was read from or written to, or `None`.
        teacher_features: `{layer: float32 array (num_samples, ...)}`, the
            teacher layers' outputs stored beside the logits, or `None`.
    """

    def __init__(self, teacher_logits, path=None, teacher_features=None):
        self.teacher_logits = np.asarray(teacher_logits, dtype="float32")
        self.path = path
        self.teacher_features = (
            None if teacher_features is None else _checked_features(teacher_features)
        )

    @property
    def num_samples(self):
        return self.teacher_logits.shape[0]

    @property
    def num_classes(self):
        return self.teacher_logits.shape[-1]

    @property
    def teacher_feature_shapes(self):
        """`{layer: shape of one example's features}` of the stored teacher
        features (`Distiller(teacher_feature_shapes=...)`), or `None`."""
        if self.teacher_features is None:
            return None
        return {name: value.shape[1:] for name, value in self.teacher_features.items()}

    def dataset(
        self, x, y, batch_size=32, shuffle=True, seed=None, example_index=False
    ):
        """`offline_dataset(x, y, self.teacher_logits, ...)`, with the stored
        teacher features (and, with `example_index`, each example's row)."""
        return offline_dataset(
            x,
            y,
            self.teacher_logits,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            teacher_features=self.teacher_features,
            example_index=example_index,
        )


def save_teacher_logits(
    path, teacher_logits, x, teacher, overwrite=False, teacher_features=None
):
    """Stores teacher logits with fingerprints of `teacher` and `x`.

    Use it for outputs that came from elsewhere: another framework, a remote
    model, or recorded expert decisions (pass a string id as `teacher`).

    Args:
        path: The `.npz` file to write (atomically).
        teacher_logits: Array `(num_samples, num_classes)` of logits.
        x: The inputs the logits belong to.
        teacher: What produced them (see `fingerprint_teacher`).
        overwrite: Whether to replace an existing file.
        teacher_features: Optional `{layer: array}` of teacher layers'
            outputs, one row per sample (`compute_teacher_features`), stored
            beside the logits.
    """
    teacher_logits = np.asarray(teacher_logits, dtype="float32")
    num_samples, data_fingerprint = fingerprints.size_and_fingerprint(x)
    if teacher_logits.ndim != 2 or len(teacher_logits) != num_samples:
        raise ValueError(
            "`teacher_logits` must have shape (num_samples, num_classes) with "
            f"one row per sample of `x` ({num_samples}). Received: "
            f"teacher_logits.shape={teacher_logits.shape}"
        )
    check_finite(teacher_logits, "teacher_logits")
    stored_features = {}
    if teacher_features is not None:
        teacher_features = _checked_features(teacher_features)
        _check_rows(
            {f"teacher_features[{name!r}]": v for name, v in teacher_features.items()},
            num_samples,
        )
        stored_features["feature_layers"] = np.array(list(teacher_features))
        for position, value in enumerate(teacher_features.values()):
            stored_features[f"teacher_features_{position}"] = value
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        with open(temporary_path, "wb") as file:
            np.savez_compressed(
                file,
                **stored_features,
                teacher_logits=teacher_logits,
                teacher_fingerprint=np.array(fingerprints.fingerprint_teacher(teacher)),
                data_fingerprint=np.array(data_fingerprint),
                format_version=np.array(_FORMAT_VERSION),
                kdkeras_version=np.array(__version__),
            )


def cache_teacher_logits(
    teacher,
    x,
    path,
    batch_size=256,
    teacher_outputs="auto",
    overwrite=False,
    verbose=0,
    feature_layers=None,
):
    """Computes the teacher's logits over `x`, stores them and returns them.

    See `compute_teacher_logits` and `save_teacher_logits`. With
    `feature_layers` (a Keras teacher's layer names), the same pass stores
    those layers' outputs too (`compute_teacher_logits_and_features`);
    `open_cache` or `load_or_compute` read them back as the cache's
    `teacher_features`.
    """
    return compute_and_save(
        teacher,
        x,
        path,
        batch_size,
        teacher_outputs,
        overwrite,
        verbose,
        feature_layers,
    ).teacher_logits


def compute_and_save(
    teacher, x, path, batch_size, teacher_outputs, overwrite, verbose, feature_layers
):
    """`cache_teacher_logits` returning the `LogitCache` (with its features)."""
    options = dict(
        batch_size=batch_size, teacher_outputs=teacher_outputs, verbose=verbose
    )
    teacher_features = None
    if feature_layers is None:
        teacher_logits = teacher_predictions.compute_teacher_logits(
            teacher, x, **options
        )
    else:
        teacher_logits, teacher_features = (
            teacher_predictions.compute_teacher_logits_and_features(
                teacher, x, feature_layers, **options
            )
        )
    save_teacher_logits(
        path,
        teacher_logits,
        x,
        teacher,
        overwrite=overwrite,
        teacher_features=teacher_features,
    )
    return LogitCache(
        teacher_logits, path=os.fspath(path), teacher_features=teacher_features
    )


def load_teacher_logits(
    path, x, teacher=None, *, teacher_fingerprint=None, allow_any_teacher=False
):
    """Loads stored teacher logits, refusing a cache for other data or teacher.

    Say which teacher the logits must come from with exactly one of
    `teacher`, `teacher_fingerprint` or `allow_any_teacher=True`, so that a
    cache made by another teacher never loads silently.

    Example, in a process with no teacher in memory:

    ```python
    # when caching: keep the teacher's fingerprint, a 64-character string
    fingerprint = offline.fingerprints.fingerprint_teacher(teacher)
    # later:
    logits = caches.load_teacher_logits(
        "teacher.npz", x_train, teacher_fingerprint=fingerprint
    )
    ```

    Args:
        path: A file written by `save_teacher_logits` or `cache_teacher_logits`.
        x: The inputs the logits must belong to.
        teacher: The teacher they must come from: the model, estimator or
            string id given to `cache_teacher_logits` / `save_teacher_logits`.
        teacher_fingerprint: Or its `fingerprint_teacher`, a SHA-256 hex
            digest.
        allow_any_teacher: Or `True`, to accept logits of any teacher (the
            data are still checked).

    Returns:
        `float32` array `(num_samples, num_classes)`.

    Raises:
        ValueError: If not exactly one of `teacher`, `teacher_fingerprint`
            and `allow_any_teacher=True` is given.
        StaleCacheError: If the fingerprint of `x` or of the teacher differs
            from the stored one.
    """
    return open_logit_file(
        path,
        x,
        teacher,
        teacher_fingerprint=teacher_fingerprint,
        allow_any_teacher=allow_any_teacher,
        caller="load_teacher_logits",
    ).teacher_logits


def open_logit_file(
    path,
    x,
    teacher=None,
    *,
    teacher_fingerprint=None,
    allow_any_teacher=False,
    caller="open_cache",
):
    """`load_teacher_logits` as a `LogitCache` (see there)."""
    expected_teacher = fingerprints.expected_teacher_fingerprint(
        teacher, teacher_fingerprint, allow_any_teacher, caller=caller
    )
    stored = npz_files.read_cache_arrays(
        path,
        ("teacher_logits", "teacher_fingerprint", "data_fingerprint"),
        _WRITER,
    )
    fingerprints.check_fingerprints(
        path,
        _WRITER,
        stored_teacher=str(stored["teacher_fingerprint"]),
        expected_teacher=expected_teacher,
        stored_data=str(stored["data_fingerprint"]),
        data=x,
    )
    teacher_features = None
    if "feature_layers" in stored:
        names = [str(name) for name in stored["feature_layers"]]
        teacher_features = {
            name: stored[f"teacher_features_{position}"]
            for position, name in enumerate(names)
        }
    return LogitCache(
        stored["teacher_logits"],
        path=os.fspath(path),
        teacher_features=teacher_features,
    )


def offline_dataset(
    x,
    y,
    teacher_logits,
    batch_size=32,
    shuffle=True,
    seed=None,
    teacher_features=None,
    example_index=False,
):
    """A cached `tf.data.Dataset` of `(x, (y, teacher_logits))` batches.

    This is the input of a `Distiller(teacher=None, ...)`: no teacher forward
    pass happens during training. Its labels are checked here, once, so the
    Distiller does not check them again batch by batch (a dataset derived
    from this one, e.g. by `.map` or `.with_options`, is checked again).

    Args:
        x: Inputs (NumPy arrays).
        y: Labels: class ids or one-hot rows.
        teacher_logits: Array `(num_samples, num_classes)`.
        batch_size: Batch size.
        shuffle: Whether to reshuffle the samples every epoch.
        seed: Seed of the shuffle.
        teacher_features: Optional stored teacher features for feature
            methods trained offline (`compute_teacher_features`): a dict from
            teacher layer name to an array with one row per sample. The
            batches are then `(x, (y, teacher_logits, teacher_features))`.
        example_index: Whether to add each sample's index (its row in `x`)
            beside the targets, for methods that need it (CRD): the batches'
            targets are then `{"targets": ..., "example_index": index}`.
    """
    import tensorflow as tf

    teacher_logits = np.asarray(teacher_logits, dtype="float32")
    check_positive_int(batch_size, "batch_size")
    check_finite(teacher_logits, "teacher_logits")
    num_classes = teacher_logits.shape[-1] if teacher_logits.ndim == 2 else None
    check_class_labels(np.asarray(y), num_classes, "y", owner="teacher_logits")
    num_samples = fingerprints.num_samples(x)
    targets = (y, teacher_logits)
    if teacher_features is not None:
        teacher_features = _checked_features(teacher_features)
        targets = (y, teacher_logits, teacher_features)
    rows = [("y", y), ("teacher_logits", teacher_logits)]
    rows += [
        (f"teacher_features[{name!r}]", value)
        for name, value in (teacher_features or {}).items()
    ]
    _check_rows(dict(rows), num_samples)
    if example_index:
        index = np.arange(num_samples, dtype="int32")
        targets = {"targets": targets, "example_index": index}
    dataset = tf.data.Dataset.from_tensor_slices((x, targets)).cache()
    if shuffle:
        dataset = dataset.shuffle(num_samples, seed=seed, reshuffle_each_iteration=True)
    # The data sit in memory, so autotuning gains nothing; in TF 2.21 it can
    # stall `fit` for seconds when an epoch's iterator is deleted
    # (docs/benchmarks.md, "Training speed").
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = dataset.batch(batch_size).prefetch(2).with_options(options)
    # Its labels were checked above: a Distiller does not check them again.
    return remember_checked_labels(dataset, num_classes)


def _check_rows(arrays, num_samples):
    """Refuses any of `{name: array}` that has not one row per sample."""
    for name, value in arrays.items():
        if len(value) != num_samples:
            raise ValueError(
                f"`{name}` must have one row per sample of `x` ({num_samples}). "
                f"Received: len({name})={len(value)}"
            )


def _checked_features(teacher_features):
    """`teacher_features` as a dict of finite float32 arrays, by layer name."""
    if not isinstance(teacher_features, dict) or not teacher_features:
        raise ValueError(
            "`teacher_features` must be a non-empty dict from teacher layer "
            "name to an array of that layer's outputs, one row per sample (see "
            "`kdkeras.caches.compute_teacher_features`). Received: "
            f"{type(teacher_features).__name__}"
        )
    checked = {}
    for name, value in teacher_features.items():
        value = np.asarray(value, dtype="float32")
        check_finite(value, f"teacher_features[{name!r}]")
        if value.ndim < 2:
            raise ValueError(
                f"`teacher_features[{name!r}]` must hold one row of features "
                f"per sample (2 or more axes). Received shape {value.shape}"
            )
        checked[name] = value
    return checked
