"""The view-parameter files of a sharded view cache: one per epoch.

A file holds the parameters of one epoch's views as `AugmentationPlan.draw` gives
them, one little-endian array after the other in `PARAMETER_NAMES` order
(`view_plan.PARAMETER_LAYOUT`: 4-byte numbers, 40 bytes a view), read back
by NumPy (`read_parameters`) or inside a `tf.data` pipeline
(`decode_parameters`).
"""

import math
import os

import numpy as np

from kdkeras.augmentation.plan import PARAMETER_LAYOUT, PARAMETER_NAMES
from kdkeras.caches import cache_files

FILE_NAME = "view-parameters-{:05d}.bin"


def write_parameters(directory, epoch, parameters):
    """Writes one epoch's parameters (`AugmentationPlan.draw(..., epochs=1)`).

    Returns:
        The file's description for the manifest, `{"file", "bytes", "sha256"}`.
    """
    name = FILE_NAME.format(epoch)
    with open(os.path.join(directory, name), "wb") as file:
        for parameter in PARAMETER_NAMES:
            dtype, _ = PARAMETER_LAYOUT[parameter]
            file.write(np.ascontiguousarray(parameters[parameter][0], dtype).tobytes())
    return cache_files.describe_file(directory, name)


def read_parameters(path, num_samples):
    """One epoch's parameters: a dict of `(num_samples[, 4])` NumPy arrays."""
    with open(path, "rb") as file:
        contents = file.read()
    parameters, offset = {}, 0
    for name in PARAMETER_NAMES:
        dtype, shape = PARAMETER_LAYOUT[name]
        value = np.frombuffer(contents, dtype, num_samples * math.prod(shape), offset)
        parameters[name] = value.reshape((num_samples, *shape))
        offset += value.nbytes
    return parameters


def decode_parameters(path, num_samples):
    """`read_parameters` in TensorFlow: `path` a string tensor, a dict of tensors."""
    import tensorflow as tf

    contents = tf.io.read_file(path)
    parameters, offset = {}, 0
    for name in PARAMETER_NAMES:
        dtype, shape = PARAMETER_LAYOUT[name]
        length = 4 * num_samples * math.prod(shape)
        piece = tf.strings.substr(contents, offset, length)
        value = tf.io.decode_raw(
            piece, tf.int32 if dtype == "<i4" else tf.float32, little_endian=True
        )
        parameters[name] = tf.reshape(value, (num_samples, *shape))
        offset += length
    return parameters
