"""Offline distillation: run the teacher once, store its logits, train from them.

The stored file is a NumPy `.npz` (read with `allow_pickle=False`) holding the
logits and fingerprints of the teacher and of the data, so a cache made by
another teacher or for other data is refused instead of silently used.

```python
logits = kdkeras.offline.cache_teacher_logits(teacher, x_train, "teacher.npz")
fingerprint = kdkeras.offline.fingerprint_teacher(teacher)  # a string to keep
# later, perhaps in another process, with no teacher in memory:
logits = kdkeras.offline.load_teacher_logits(
    "teacher.npz", x_train, teacher_fingerprint=fingerprint
)
dataset = kdkeras.offline.offline_dataset(x_train, y_train, logits, batch_size=64)
distiller = kdkeras.Distiller(teacher=None, student=student)
distiller.compile(optimizer="adam", metrics=["accuracy"])
distiller.fit(dataset, epochs=3)
```
"""

import re
import zipfile

import keras
import numpy as np

from kdkeras import batches
from kdkeras.distillation import fingerprints
from kdkeras.distillation import outputs as model_outputs
from kdkeras.distillation.fingerprints import fingerprint_data, fingerprint_teacher
from kdkeras.io_utils import atomic_path
from kdkeras.validation import (
    check_class_labels,
    check_examples,
    check_finite,
    check_positive_int,
)
from kdkeras.version import __version__

_FORMAT_VERSION = 1

_SHA256 = re.compile(r"[0-9a-f]{64}")


class StaleCacheError(ValueError):
    """A teacher-logits cache does not belong to the given teacher or data."""


def compute_teacher_logits(
    teacher, x, batch_size=256, teacher_outputs="auto", verbose=0
):
    """Runs `teacher` over `x` once and returns its logits as a NumPy array.

    Args:
        teacher: A Keras model, or an estimator with `predict_proba` (e.g.
            scikit-learn), whose probabilities are turned into logits.
        x: Inputs: NumPy arrays as the teacher takes them, or a batched
            `tf.data.Dataset` of inputs or `(inputs, labels)`, read batch by
            batch (e.g. from `keras.utils.image_dataset_from_directory(...,
            shuffle=False)`: a cache needs the same order every time).
        batch_size: Batch size of the Keras teacher's `predict` (of arrays).
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"` for a Keras
            teacher (see `kdkeras.Distiller`).
        verbose: Verbosity of `predict` (1 shows a progress bar).

    Returns:
        `float32` array `(num_samples, num_classes)`.
    """
    check_examples(x, "x")
    check_positive_int(batch_size, "batch_size")
    if isinstance(teacher, keras.Model):
        kind = model_outputs.resolve_output_kind(
            teacher, teacher_outputs, "teacher_outputs"
        )
        outputs = teacher.predict(x, batch_size=batch_size, verbose=verbose)
    elif hasattr(teacher, "predict_proba") and batches.is_dataset(x):
        kind = "probabilities"
        outputs = np.concatenate(
            [teacher.predict_proba(inputs) for inputs in batches.input_batches(x)]
        )
    elif hasattr(teacher, "predict_proba"):
        kind, outputs = "probabilities", teacher.predict_proba(x)
    else:
        raise TypeError(
            "`teacher` must be a Keras model or an estimator with "
            f"`predict_proba`. Received: teacher of type {type(teacher)}"
        )
    outputs = np.asarray(outputs, dtype="float32")
    if kind == "probabilities":
        outputs = keras.ops.convert_to_numpy(
            model_outputs.probabilities_to_logits(outputs)
        )
    return outputs


def save_teacher_logits(path, teacher_logits, x, teacher, overwrite=False):
    """Stores teacher logits with fingerprints of `teacher` and `x`.

    Use it for outputs that came from elsewhere: another framework, a remote
    model, or recorded expert decisions (pass a string id as `teacher`).

    Args:
        path: The `.npz` file to write (atomically).
        teacher_logits: Array `(num_samples, num_classes)` of logits.
        x: The inputs the logits belong to.
        teacher: What produced them (see `fingerprint_teacher`).
        overwrite: Whether to replace an existing file.
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
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        with open(temporary_path, "wb") as file:
            np.savez_compressed(
                file,
                teacher_logits=teacher_logits,
                teacher_fingerprint=np.array(fingerprint_teacher(teacher)),
                data_fingerprint=np.array(data_fingerprint),
                format_version=np.array(_FORMAT_VERSION),
                kdkeras_version=np.array(__version__),
            )


def cache_teacher_logits(
    teacher, x, path, batch_size=256, teacher_outputs="auto", overwrite=False, verbose=0
):
    """Computes the teacher's logits over `x`, stores them and returns them.

    See `compute_teacher_logits` and `save_teacher_logits`.
    """
    teacher_logits = compute_teacher_logits(
        teacher,
        x,
        batch_size=batch_size,
        teacher_outputs=teacher_outputs,
        verbose=verbose,
    )
    save_teacher_logits(path, teacher_logits, x, teacher, overwrite=overwrite)
    return teacher_logits


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
    fingerprint = offline.fingerprint_teacher(teacher)
    # later:
    logits = offline.load_teacher_logits(
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
    expected_teacher = expected_teacher_fingerprint(
        teacher, teacher_fingerprint, allow_any_teacher
    )
    stored = read_cache_arrays(
        path,
        ("teacher_logits", "teacher_fingerprint", "data_fingerprint"),
        "cache_teacher_logits",
    )
    teacher_logits = stored["teacher_logits"]
    stored_data = str(stored["data_fingerprint"])
    stored_teacher = str(stored["teacher_fingerprint"])
    if fingerprint_data(x) != stored_data:
        raise StaleCacheError(
            f"The cache {path!r} was made for other data than `x` (fingerprint "
            f"{stored_data[:12]}…, received {fingerprint_data(x)[:12]}…). "
            "Recompute it with `cache_teacher_logits(..., overwrite=True)`."
        )
    if expected_teacher is not None and expected_teacher != stored_teacher:
        raise StaleCacheError(
            f"The cache {path!r} was made by another teacher (fingerprint "
            f"{stored_teacher[:12]}…, received "
            f"{expected_teacher[:12]}…). Recompute it with "
            "`cache_teacher_logits(..., overwrite=True)`."
        )
    return teacher_logits


def expected_teacher_fingerprint(
    teacher, teacher_fingerprint, allow_any_teacher, caller="load_teacher_logits"
):
    """The teacher fingerprint a cache must have, or `None` for any teacher.

    Exactly one of `teacher`, `teacher_fingerprint` and `allow_any_teacher=True`
    must be given (`caller`, the loading function, is named in the error).
    """
    if not isinstance(allow_any_teacher, bool):
        raise TypeError(
            "`allow_any_teacher` must be True or False. Received: "
            f"allow_any_teacher={allow_any_teacher!r}"
        )
    given = [
        f"{name}={value!r}"
        for name, value, unset in (
            ("teacher", teacher, None),
            ("teacher_fingerprint", teacher_fingerprint, None),
            ("allow_any_teacher", allow_any_teacher, False),
        )
        if value is not unset
    ]
    if len(given) != 1:
        raise ValueError(
            f"`{caller}` needs exactly one of `teacher` (the model, "
            "estimator or id the cache was made with), `teacher_fingerprint` "
            "(its `offline.fingerprint_teacher`, a string to keep beside the "
            "cache) or `allow_any_teacher=True`, so that a cache of another "
            f"teacher does not load silently. Received: {', '.join(given) or 'none'}"
        )
    if teacher is not None:
        return fingerprint_teacher(teacher)
    if teacher_fingerprint is not None:
        if not isinstance(teacher_fingerprint, str) or not _SHA256.fullmatch(
            teacher_fingerprint
        ):
            raise ValueError(
                "`teacher_fingerprint` must be the 64 hexadecimal characters "
                "of `offline.fingerprint_teacher(teacher)`. Received: "
                f"teacher_fingerprint={teacher_fingerprint!r}"
            )
        return teacher_fingerprint
    return None


def read_cache_arrays(path, required, writer, kind="teacher-logits cache"):
    """The arrays of a kdkeras `.npz` cache, as a dict, read without pickle.

    Args:
        path: The file.
        required: The names of the arrays it must hold.
        writer: The function that writes such a file (named in errors).
        kind: What the file is, in errors.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is truncated, of another format, or lacks
            one of `required`.
    """
    try:
        stored = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path!r} is not a kdkeras {kind} (truncated, or another format: "
            f"{type(error).__name__}). Recompute it with `{writer}(..., "
            "overwrite=True)`."
        ) from None
    if not isinstance(stored, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path!r} is not a kdkeras {kind}: it holds one array, not the "
            f"`.npz` archive `{writer}` writes."
        )
    with stored:
        missing = set(required) - set(stored.files)
        if missing:
            raise ValueError(
                f"{path!r} is not a kdkeras {kind} written by `{writer}`: it "
                f"lacks {sorted(missing)}."
            )
        try:
            return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"{path!r} is truncated or damaged ({type(error).__name__}). "
                f"Recompute it with `{writer}(..., overwrite=True)`."
            ) from None


def offline_dataset(x, y, teacher_logits, batch_size=32, shuffle=True, seed=None):
    """A cached `tf.data.Dataset` of `(x, (y, teacher_logits))` batches.

    This is the input of a `Distiller(teacher=None, ...)`: no teacher forward
    pass happens during training.

    Args:
        x: Inputs (NumPy arrays).
        y: Labels: class ids or one-hot rows.
        teacher_logits: Array `(num_samples, num_classes)`.
        batch_size: Batch size.
        shuffle: Whether to reshuffle the samples every epoch.
        seed: Seed of the shuffle.
    """
    import tensorflow as tf

    teacher_logits = np.asarray(teacher_logits, dtype="float32")
    check_positive_int(batch_size, "batch_size")
    check_finite(teacher_logits, "teacher_logits")
    num_classes = teacher_logits.shape[-1] if teacher_logits.ndim == 2 else None
    check_class_labels(np.asarray(y), num_classes, "y", owner="teacher_logits")
    num_samples = fingerprints.num_samples(x)
    for name, value in (("y", y), ("teacher_logits", teacher_logits)):
        if len(value) != num_samples:
            raise ValueError(
                f"`{name}` must have one row per sample of `x` ({num_samples}). "
                f"Received: len({name})={len(value)}"
            )
    dataset = tf.data.Dataset.from_tensor_slices((x, (y, teacher_logits))).cache()
    if shuffle:
        dataset = dataset.shuffle(num_samples, seed=seed, reshuffle_each_iteration=True)
    # The data sit in memory, so autotuning gains nothing; in TF 2.21 it can
    # stall `fit` for seconds when an epoch's iterator is deleted
    # (benchmarks/README.md).
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.batch(batch_size).prefetch(2).with_options(options)
