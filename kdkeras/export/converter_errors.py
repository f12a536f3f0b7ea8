"""Turning LiteRT converter failures into errors that say what to do."""

import re

from kdkeras.litert.litert_model import LiteRTModel
from kdkeras.models.layer_walk import walk_layers

# Ops that only move data between float and int8 at the model's edges.
_QUANTIZATION_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
_FLOAT_DTYPES = frozenset({"float16", "float32", "float64"})

# `'tf.ResizeBicubic' op is neither a custom op nor a flex op`
_UNSUPPORTED_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
# `fused["ResizeBicubic:", "sequential_1/resize_camera_1/resize/ResizeBicubic@...`
_OP_LOCATION = re.compile(r'fused\["(\w+):", "([^"@]+)')


class ExportError(ValueError):
    """A model that LiteRT cannot run as asked.

    The message names the ops and the layers they come from, and the ways out.
    """


def layer_names(model):
    """Names of `model`'s layers, those of nested models included.

    `model` is a Keras 3 or a `tf_keras` model (a quantization-aware one).
    """
    return [layer.name for layer in walk_layers(model)]


def layer_of(tensor_or_op_path, names):
    """The layer of `names` that `tensor_or_op_path` comes from, or `None`.

    TensorFlow scopes look like `"model_1/conv_1/Conv2D"`: a layer `conv`
    appears as `conv` or `conv_<n>`. The innermost matching scope wins.
    """
    scopes = tensor_or_op_path.split("/")
    for scope in reversed(scopes[:-1] or scopes):
        for name in names:
            if re.fullmatch(re.escape(name) + r"(_\d+)?", scope):
                return name
    return None


def _describe(ops_and_layers):
    parts = []
    for op, layer in ops_and_layers:
        parts.append(f"{op} (layer {layer!r})" if layer else op)
    return ", ".join(dict.fromkeys(parts))


def is_converter_error(error):
    """Whether `error` is the TFLite converter's `ConverterError`.

    The class lives in a private TensorFlow module, so it is matched by name.
    """
    return type(error).__name__ == "ConverterError"


def unsupported_ops_error(error, model, quantization):
    """An `ExportError` for a `ConverterError` of the TFLite converter."""
    message = str(error)
    unsupported = list(dict.fromkeys(_UNSUPPORTED_OP.findall(message)))
    if not unsupported:
        return ExportError(
            f"The LiteRT converter failed on model {model.name!r} with "
            f"quantization={quantization!r}:\n{message}"
        )
    names = layer_names(model)
    found = [
        (op, layer_of(path, names))
        for op, path in _OP_LOCATION.findall(message)
        if op in unsupported
    ]
    found += [(op, None) for op in unsupported if op not in {o for o, _ in found}]
    return ExportError(
        f"Model {model.name!r} uses TensorFlow ops that have no LiteRT builtin "
        f"kernel: {_describe(found)}. Ways out: move this computation (often "
        "preprocessing such as resizing) out of the model and do it in the app; "
        "replace the layer with one LiteRT supports (e.g. "
        "`Resizing(interpolation='bilinear')`); or pass "
        "`allow_select_tf_ops=True` to enable SELECT_TF_OPS (the app then needs "
        "the LiteRT Flex delegate, several MB larger)."
    )


def float_ops(tflite_path):
    """`(op_name, first float tensor name)` of the ops computing in float."""
    model = LiteRTModel(tflite_path)
    tensors = {t["index"]: t for t in model.tensor_details}
    found = []
    for op in model.ops:
        if op["op_name"] in _QUANTIZATION_OPS:
            continue
        indices = [i for i in (*op["outputs"], *op["inputs"]) if i >= 0]
        floats = [
            tensors[i]["name"]
            for i in indices
            if tensors[i]["dtype"].__name__ in _FLOAT_DTYPES
        ]
        if floats:
            found.append((op["op_name"], floats[0]))
    return found


def check_fully_quantized(tflite_path, model):
    """Raises `ExportError` if the int8 model at `tflite_path` has float ops."""
    found = float_ops(tflite_path)
    if not found:
        return
    names = layer_names(model)
    described = _describe((op, layer_of(tensor, names)) for op, tensor in found)
    raise ExportError(
        f"Model {model.name!r} cannot be fully quantized to int8: these ops "
        f"have no int8 kernel and would stay in float: {described}. Ways out: "
        "use quantization='dynamic_range' or 'float16'; replace the layer with "
        "one that has an int8 kernel; or move this computation out of the model."
    )
