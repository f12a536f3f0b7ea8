"""SHA-256 fingerprints of teachers and data, kept beside every cache, and
the one check that refuses a cache made by another teacher or for other data
(`StaleCacheError`).

Every format of `kdkeras.caches` stores the two fingerprints when it is
written and calls `check_fingerprints` when it is opened.
"""

import hashlib
import os
import pickle
import re

import keras
import numpy as np

from kdkeras import batches

_SHA256 = re.compile(r"[0-9a-f]{64}")


class StaleCacheError(ValueError):
    """A cache of teacher outputs does not belong to the given teacher or data."""


def _hash_arrays(arrays, prefix=b""):
    digest = hashlib.sha256(prefix)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def fingerprint_teacher(teacher):
    """A SHA-256 fingerprint of a teacher.

    Args:
        teacher: A Keras model (its architecture class and weights are
            hashed), a picklable estimator such as a scikit-learn model (its
            pickle is hashed), or a string naming the source of stored outputs
            (e.g. `"expert-decisions-2026-11"`), used as is.
    """
    if isinstance(teacher, str):
        return hashlib.sha256(teacher.encode()).hexdigest()
    if isinstance(teacher, keras.Model):
        prefix = type(teacher).__name__.encode()
        return _hash_arrays(teacher.get_weights(), prefix)
    try:
        return hashlib.sha256(pickle.dumps(teacher)).hexdigest()
    except Exception as error:
        raise TypeError(
            "`teacher` must be a Keras model, a picklable estimator or a string "
            f"id. Received: teacher of type {type(teacher)} ({error})"
        ) from None


class BatchDigest:
    """`fingerprint_data` of a dataset, fed one batch of inputs at a time.

    A writer that reads the data once (the sharded cache) hashes each batch
    as it goes, and gets the fingerprint a later `fingerprint_data(dataset)`
    computes for the same batches.
    """

    def __init__(self):
        self._digest = hashlib.sha256(b"dataset")
        self.num_samples = 0

    def update(self, inputs):
        inputs = np.ascontiguousarray(inputs)
        self._digest.update(f"{inputs.dtype.str}{inputs.shape}".encode())
        self._digest.update(inputs.tobytes())
        self.num_samples += len(inputs)

    def hexdigest(self):
        return self._digest.hexdigest()


def fingerprint_data(x):
    """A SHA-256 fingerprint of input arrays (an array, or a list/dict of them).

    A `tf.data.Dataset` is read once, batch by batch: its inputs (labels
    left out) are hashed in order, so it must yield the same batches in the
    same order every time (no reshuffling).
    """
    if batches.is_dataset(x):
        return size_and_fingerprint(x)[1]
    if isinstance(x, dict):
        return _hash_arrays([x[key] for key in sorted(x)], b"dict")
    if isinstance(x, (list, tuple)):
        return _hash_arrays(x, b"list")
    return _hash_arrays([np.asarray(x)])


def size_and_fingerprint(x):
    """`(number of examples, fingerprint_data(x))`, a dataset read once."""
    if not batches.is_dataset(x):
        return num_samples(x), fingerprint_data(x)
    digest = BatchDigest()
    for inputs in batches.input_batches(x):
        digest.update(inputs)
    return digest.num_samples, digest.hexdigest()


def num_samples(x):
    """The number of examples of arrays (or a list/dict of them) or a dataset."""
    if batches.is_dataset(x):
        return size_and_fingerprint(x)[0]
    if isinstance(x, dict):
        x = next(iter(x.values()))
    elif isinstance(x, (list, tuple)):
        x = x[0]
    return len(x)


def expected_teacher_fingerprint(
    teacher, teacher_fingerprint, allow_any_teacher, caller="open_cache"
):
    """The teacher fingerprint a cache must have, or `None` for any teacher.

    Exactly one of `teacher`, `teacher_fingerprint` and `allow_any_teacher=True`
    must be given (`caller`, the opening function, is named in the error), so
    that a cache made by another teacher never loads silently.
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
            "(its `caches.fingerprint_teacher`, a string to keep beside the "
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
                "of `caches.fingerprint_teacher(teacher)`. Received: "
                f"teacher_fingerprint={teacher_fingerprint!r}"
            )
        return teacher_fingerprint
    return None


def check_fingerprints(
    location,
    writer,
    *,
    stored_teacher,
    expected_teacher,
    stored_data=None,
    data=None,
    data_name="x",
):
    """Raises `StaleCacheError` unless a cache belongs to this teacher and data.

    Args:
        location: The cache's file or directory (named in the error).
        writer: The function that writes such a cache (named in the error).
        stored_teacher: The cache's teacher fingerprint.
        expected_teacher: `expected_teacher_fingerprint(...)`: the one it
            must have, or `None` for any teacher.
        stored_data: The cache's data fingerprint, or `None` not to check
            the data.
        data: The data it must belong to (fingerprinted here).
        data_name: The data's argument name, in the error.
    """
    location = os.fspath(location)
    if stored_data is not None:
        received = fingerprint_data(data)
        if received != stored_data:
            raise StaleCacheError(
                f"The cache {location!r} was made for other data than "
                f"`{data_name}` (fingerprint {stored_data[:12]}…, received "
                f"{received[:12]}…): other inputs, order or batches. Recompute "
                f"it with `{writer}(..., overwrite=True)`."
            )
    if expected_teacher is not None and expected_teacher != stored_teacher:
        raise StaleCacheError(
            f"The cache {location!r} was made by another teacher (fingerprint "
            f"{stored_teacher[:12]}…, received {expected_teacher[:12]}…). "
            f"Recompute it with `{writer}(..., overwrite=True)`."
        )
