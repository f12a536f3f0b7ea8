"""The size of a Keras model: its weights, and its `.keras` file to deploy."""

import os
import tempfile

import keras

from kdkeras.models.layer_walk import walk_layers


def count_parameters(model):
    """The number of weights of `model`, trainable or not.

    Includes non-trainable state such as BatchNormalization's moving
    statistics, as `model.summary()` does in its total.
    """
    return int(model.count_params())


def model_size_bytes(model, include_optimizer=False):
    """The size in bytes of `model` saved as a `.keras` file.

    The model is saved into a temporary directory that is then removed.

    Args:
        model: A Keras model.
        include_optimizer: Whether to count the optimizer's state. By default
            it is left out, so the size is that of the model to deploy, the
            same whether or not the model was compiled and trained: Adam's
            state alone holds two values per weight. It can only be left out
            of functional and Sequential models; a subclassed model is saved
            as it is.

    Returns:
        The file size in bytes, an `int`.
    """
    if not include_optimizer:
        model = _without_optimizer(model)
    with tempfile.TemporaryDirectory(prefix="kdkeras-size-") as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        return os.path.getsize(path)


def _without_optimizer(model):
    """`model` without optimizer state, also that of nested compiled models.

    A nested model compiled on its own (a fine-tuned teacher inside a wrapper)
    would otherwise save its optimizer with the wrapper.
    """
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        return model  # A subclassed model has no symbolic graph to rewire.
    if not inputs or not outputs:
        return model
    if getattr(model, "optimizer", None) is not None:
        model = keras.Model(inputs, outputs, name=model.name)
    nested_models = [
        layer for layer in walk_layers(model) if isinstance(layer, keras.Model)
    ]
    if all(getattr(nested, "optimizer", None) is None for nested in nested_models):
        return model
    # Cloning rebuilds nested models from their configs, uncompiled.
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy
