"""SHA-256 fingerprints of teachers and data, kept beside logit caches.

Shared by the in-memory cache (`kdkeras.distillation.offline`), the view
cache and the sharded, streamed cache (`kdkeras.distillation.sharded_cache`),
so that each refuses logits made by another teacher or for other data.
"""

import hashlib
import pickle

import keras
import numpy as np

from kdkeras import batches


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
