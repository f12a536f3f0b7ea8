"""Keras 3 ↔ Keras 2 (`tf_keras`) bridge for TensorFlow Model Optimization.

tensorflow-model-optimization (tfmot) only accepts `tf_keras` models. This
module rebuilds a Keras 3 model layer by layer in `tf_keras`, copies the
weights, checks that both give the same outputs, and copies trained weights
back. It is the only kdkeras module that imports `tf_keras` or tfmot, and it
does so lazily: importing it changes nothing in the process.

Importing tfmot sets `TF_USE_LEGACY_KERAS=1`, which would route TensorFlow's
own Keras attribute (in this process and every child process) to `tf_keras`;
`tfmot()` restores the variable to what it was. kdkeras imports `keras` and
`tf_keras` by name and never goes through TensorFlow's attribute.
"""

import importlib
import os

import keras
import numpy as np

from kdkeras import compat
from kdkeras.validation import require_tensorflow_backend

# Keras 3 arguments that `tf_keras` layers do not take, with the values that
# mean "not used"; any other value is refused rather than silently dropped.
_KERAS3_ONLY_DEFAULTS = {
    "lora_rank": (None, 0),
    "lora_alpha": (None,),
    "quantization_config": (None,),
    "synchronized": (False,),
    "optional": (False,),
    "input_axes": (None,),
    "output_axes": (None,),
}
_NESTED_OBJECT_KEYS = ("_regularizer", "_constraint")


class BridgeMismatchError(ValueError):
    """A `tf_keras` rebuild does not reproduce the Keras 3 model."""


class UnsupportedLayerError(ValueError):
    """A layer has no one-to-one `tf_keras` (or tfmot) counterpart."""


def _import(module_name):
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"kdkeras.optimize needs {module_name!r} ({error}). Install it with "
            '`pip install "kdkeras[optimize]"` (tf-keras and '
            "tensorflow-model-optimization)."
        ) from None


def tf_keras():
    """Imports and returns the `tf_keras` package (Keras 2)."""
    return _import("tf_keras")


def tfmot():
    """Imports and returns `tensorflow_model_optimization`.

    The import sets `TF_USE_LEGACY_KERAS=1`; the variable is put back as it
    was so that child processes and later `import tensorflow` see Keras 3.
    """
    previous = os.environ.get("TF_USE_LEGACY_KERAS")
    try:
        return _import("tensorflow_model_optimization")
    finally:
        if previous is None:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        else:
            os.environ["TF_USE_LEGACY_KERAS"] = previous


def to_tf_keras(model):
    """Rebuilds a Keras 3 model in `tf_keras` and copies its weights.

    Works for `Sequential` and functional models whose layers are built-in
    Keras layers that exist in `tf_keras` under the same name (`Conv2D`,
    `Dense`, `BatchNormalization`, `Rescaling`, pooling, `Flatten`,
    `Dropout`, `ReLU`, `Add`, ...), including nested models, such as the
    students of `kdkeras.models.build_cnn`. Check the result with
    `check_same_outputs`.

    Args:
        model: A built Keras 3 `keras.Model`.

    Returns:
        A functional `tf_keras.Model` with the same layer names and weights.

    Raises:
        UnsupportedLayerError: For a layer without a `tf_keras` counterpart
            (custom, or Keras 3 only); the message names the layer.
        RuntimeError: If Keras does not run on the TensorFlow backend.
    """
    require_tensorflow_backend("kdkeras.optimize.to_tf_keras")
    if not isinstance(model, keras.Model):
        raise TypeError(
            "`model` must be a Keras 3 `keras.Model`. "
            f"Received: model={model!r} of type {type(model)}"
        )
    if not model.built or not model.inputs:
        raise ValueError(
            f"`model` must be built with a known input shape. Model "
            f"{model.name!r} has no inputs; call it on data or give it a "
            "`keras.Input` first."
        )
    tfk = tf_keras()
    if isinstance(model, keras.Sequential):
        inputs = _tf_keras_input(tfk, model.inputs[0], model.inputs[0].name)
        outputs = inputs
        for layer in model.layers:
            outputs = _converted(tfk, layer)(outputs)
        rebuilt = tfk.Model(inputs, outputs, name=model.name)
    else:
        rebuilt = _rebuild_functional(tfk, model)
    _copy_layer_weights(model, rebuilt)
    return rebuilt


def check_same_outputs(keras3_model, tf_keras_model, x, atol=1e-5):
    """Raises `BridgeMismatchError` unless both models agree on `x`.

    Args:
        keras3_model: The Keras 3 model.
        tf_keras_model: Its `tf_keras` rebuild.
        x: A batch of inputs (a few dozen samples suffice).
        atol: Largest allowed absolute difference of any output.

    Returns:
        The largest absolute difference found.
    """
    expected = np.asarray(keras3_model(x, training=False))
    received = np.asarray(tf_keras_model(x, training=False))
    if expected.shape != received.shape:
        raise BridgeMismatchError(
            f"The tf_keras rebuild of {keras3_model.name!r} outputs shape "
            f"{received.shape}, the Keras 3 model {expected.shape}."
        )
    max_diff = float(np.max(np.abs(expected - received))) if expected.size else 0.0
    if not max_diff <= atol:
        raise BridgeMismatchError(
            f"The tf_keras rebuild of {keras3_model.name!r} does not reproduce "
            f"its outputs: max |difference| = {max_diff:.3g} > atol={atol:g}. "
            "A layer may behave differently in tf_keras; convert the model "
            "layer by layer to find it."
        )
    return max_diff


def to_keras3(tf_keras_model, keras3_model):
    """Copies weights from a `tf_keras` model into a Keras 3 model, in place.

    Layers are matched by name; a tfmot wrapper (`quant_<name>`,
    `prune_low_magnitude_<name>`) is looked through to the layer it wraps.

    Args:
        tf_keras_model: A `tf_keras` model, e.g. from `strip_pruning`.
        keras3_model: A Keras 3 model of the same architecture.

    Returns:
        `keras3_model`.
    """
    by_name = {}
    for layer in tf_keras_model.layers:
        inner = getattr(layer, "layer", layer)
        # A wrapper's own weights, not the wrapped layer's: tfmot's
        # QuantizeWrapper takes the kernel over from the layer it wraps.
        source = inner if isinstance(inner, tf_keras().Model) else layer
        by_name[layer.name] = source
        by_name.setdefault(inner.name, source)
    for layer in keras3_model.layers:
        if not layer.weights:
            continue
        source = by_name.get(layer.name)
        if source is None:
            raise BridgeMismatchError(
                f"Layer {layer.name!r} of {keras3_model.name!r} has no "
                f"counterpart in {tf_keras_model.name!r}."
            )
        if isinstance(layer, keras.Model):
            to_keras3(source, layer)
            continue
        _set_weights(layer, _float_weights(source), f"{layer.name!r}")
    return keras3_model


def _float_weights(layer):
    """A layer's weights without tfmot's pruning masks or quantizer ranges."""
    return [w.numpy() for w in compat.tfmot_layer_weights(layer)]


def _set_weights(target, weights, where):
    expected = [tuple(w.shape) for w in target.weights]
    received = [tuple(np.shape(w)) for w in weights]
    if expected != received:
        raise BridgeMismatchError(
            f"Weights of layer {where} do not match: shapes {received} cannot "
            f"go into {expected}."
        )
    target.set_weights(weights)


def _copy_layer_weights(model, rebuilt):
    for layer in model.layers:
        if layer.weights and not isinstance(layer, keras.Model):
            target = rebuilt.get_layer(layer.name)
            _set_weights(target, layer.get_weights(), f"{layer.name!r}")


def _tf_keras_input(tfk, tensor, name):
    return tfk.Input(batch_shape=tuple(tensor.shape), dtype=tensor.dtype, name=name)


def _rebuild_functional(tfk, model):
    config = model.get_config()
    tensors = {}
    pending = []
    for layer_config in config["layers"]:
        layer = _layer_of(model, layer_config)
        if isinstance(layer, keras.layers.InputLayer):
            tensors[(layer.name, 0, 0)] = _tf_keras_input(tfk, layer.output, layer.name)
        else:
            for index, node in enumerate(layer_config["inbound_nodes"]):
                pending.append((layer, index, node))
    converted = {}
    while pending:
        remaining = []
        for layer, index, node in pending:
            try:
                args = _replace_tensors(node["args"], tensors)
                kwargs = _replace_tensors(node["kwargs"], tensors)
            except KeyError:
                remaining.append((layer, index, node))
                continue
            if layer.name not in converted:
                converted[layer.name] = _converted(tfk, layer)
            outputs = converted[layer.name](*args, **kwargs)
            flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            for position, tensor in enumerate(flat):
                tensors[(layer.name, index, position)] = tensor
        if len(remaining) == len(pending):
            names = sorted({layer.name for layer, _, _ in remaining})
            raise UnsupportedLayerError(
                f"Could not connect layers {names} of {model.name!r}: their "
                "inputs are never produced."
            )
        pending = remaining
    inputs = _replace_tensors(config["input_layers"], tensors, history=True)
    outputs = _replace_tensors(config["output_layers"], tensors, history=True)
    return tfk.Model(inputs, outputs, name=model.name)


def _layer_of(model, layer_config):
    name = layer_config["name"]
    try:
        return model.get_layer(name)
    except ValueError:
        raise UnsupportedLayerError(
            f"{name!r} ({layer_config['class_name']}) in {model.name!r} is a "
            "Keras operation applied to a tensor, not a layer, so it cannot be "
            "rebuilt in tf_keras. Use a built-in layer instead (e.g. "
            "`keras.layers.Cropping2D` rather than slicing a tensor)."
        ) from None


def _replace_tensors(structure, tensors, history=False):
    """Replaces serialized Keras tensors (or `[name, node, index]`) in `structure`."""
    if history and _is_history(structure):
        return tensors[tuple(structure)]
    if isinstance(structure, dict):
        if structure.get("class_name") == "__keras_tensor__":
            return tensors[tuple(structure["config"]["keras_history"])]
        return {
            key: _replace_tensors(value, tensors, history)
            for key, value in structure.items()
        }
    if isinstance(structure, (list, tuple)):
        return type(structure)(
            _replace_tensors(value, tensors, history) for value in structure
        )
    return structure


def _is_history(structure):
    return (
        isinstance(structure, (list, tuple))
        and len(structure) == 3
        and isinstance(structure[0], str)
        and all(isinstance(i, int) for i in structure[1:])
    )


def _converted(tfk, layer):
    """A new `tf_keras` layer equivalent to the Keras 3 `layer`."""
    if isinstance(layer, keras.Model):
        return to_tf_keras(layer)
    class_name = type(layer).__name__
    target_class = getattr(tfk.layers, class_name, None)
    if target_class is None or not type(layer).__module__.startswith("keras."):
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({class_name}) has no tf_keras counterpart, "
            "so tensorflow-model-optimization cannot handle this model. Build "
            "the model from built-in layers that exist in both Keras versions, "
            "or move this layer out of the model (e.g. into the data pipeline)."
        )
    config = _tf_keras_config(layer, layer.get_config())
    try:
        return target_class.from_config(config)
    except (TypeError, ValueError) as error:
        raise UnsupportedLayerError(
            f"Layer {layer.name!r} ({class_name}) could not be rebuilt in "
            f"tf_keras from its config: {error}"
        ) from None


def _tf_keras_config(layer, config):
    converted = {}
    for key, value in config.items():
        if key in _KERAS3_ONLY_DEFAULTS:
            if value not in _KERAS3_ONLY_DEFAULTS[key]:
                raise UnsupportedLayerError(
                    f"Layer {layer.name!r} ({type(layer).__name__}) uses "
                    f"{key}={value!r}, which tf_keras does not support."
                )
            continue
        if key.endswith("_initializer"):
            # Weights are copied, so initializers never run.
            continue
        if key == "dtype" and isinstance(value, dict):
            value = value.get("config", {}).get("name", "float32")
        elif key.endswith(_NESTED_OBJECT_KEYS) and isinstance(value, dict):
            value = {"class_name": value["class_name"], "config": value["config"]}
        elif key == "activation" and not isinstance(value, str):
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has a custom "
                f"activation {value!r}; only built-in activation names map to "
                "tf_keras."
            )
        converted[key] = value
    return converted
