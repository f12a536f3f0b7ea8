"""Checks of the Keras models given to kdkeras: type, outputs, classes."""

import os

import keras

from kdkeras.validation import files

KERAS_MODEL_EXTENSIONS = (".keras", ".h5")
"""Extensions of the model files `keras_model_argument` loads."""


def check_keras_model(model, argument_name):
    """Returns `model` if it is a `keras.Model`; raises `TypeError` otherwise."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`{argument_name}` must be a `keras.Model`. Received: "
            f"{argument_name}={model!r} of type {type(model).__name__}"
        )
    return model


def keras_model_argument(model, argument_name="model"):
    """`model`, or the Keras model saved at `model` when it is a path.

    A `.keras` (or legacy `.h5`) path is loaded with
    `keras.saving.load_model(path, compile=False)`, as `model` would be by
    hand; a model with custom layers must be registered
    (`keras.saving.register_keras_serializable`) or loaded by the caller.

    Raises:
        TypeError: If `model` is neither a `keras.Model` nor the path of a
            Keras model file.
        FileNotFoundError: If the path does not exist.
        ValueError: If the file is not a Keras model.
    """
    if not isinstance(model, (str, bytes, os.PathLike)):
        return check_keras_model(model, argument_name)
    path = files.check_path(model, argument_name)
    if not path.endswith(KERAS_MODEL_EXTENSIONS):
        raise TypeError(
            f"`{argument_name}` must be a `keras.Model` or the path of a Keras "
            f"model file ({', '.join(KERAS_MODEL_EXTENSIONS)}). Received: "
            f"{argument_name}={path!r}"
        )
    path = files.check_existing_file(path, argument_name, "a Keras model file")
    description = files.describe_file(path)
    if not description.startswith(("a zip", "an HDF5")):
        raise ValueError(
            f"`{argument_name}` must be a Keras model file. Received: "
            f"{argument_name}={path!r}, {description}"
        )
    return keras.saving.load_model(path, compile=False)


def check_single_output(model, argument_name):
    """Raises `ValueError` unless a functional `model` has exactly one output.

    A classifier distils, exports and scores through one tensor of class
    scores; with several outputs, the others would be silently ignored.
    """
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return  # A subclassed model: its outputs are only known when it runs.
    if outputs and len(outputs) != 1:
        raise ValueError(
            f"`{argument_name}` must have one output, the class scores "
            f"(batch, num_classes). Received: {model.name!r} with "
            f"{len(outputs)} outputs {[tuple(o.shape) for o in outputs]}. Wrap "
            "it in a `keras.Model(inputs, outputs[i])` of the scores."
        )


def num_classes(model):
    """The number of outputs of a functional or Sequential classifier, or `None`.

    `None` when it cannot be read without running the model (a subclassed or
    unbuilt model).
    """
    try:
        return model.outputs[0].shape[-1] if model.outputs else None
    except (AttributeError, ValueError):
        return None
