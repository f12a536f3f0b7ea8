"""Checks of the environment kdkeras runs in."""

import keras


def require_tensorflow_backend(feature_name):
    """Raises `RuntimeError` unless Keras runs on the TensorFlow backend.

    LiteRT conversion and tensorflow-model-optimization work on TensorFlow
    graphs, so the Keras models they take must be TensorFlow-backed.

    Args:
        feature_name: What needs TensorFlow, as the user called it, e.g.
            `"kdkeras.export.export_litert"`.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"`{feature_name}` needs the TensorFlow backend of Keras. Received: "
            f"keras.backend.backend()={backend!r}. Set the environment variable "
            "KERAS_BACKEND=tensorflow before Keras is imported (e.g. "
            "`KERAS_BACKEND=tensorflow python train.py`), or set "
            '"backend": "tensorflow" in ~/.keras/keras.json.'
        )
