"""Exporting a Keras model to a LiteRT (`.tflite`) file, quantized or not."""

import numbers
import os
import tempfile

import tensorflow as tf

from kdkeras.export import calibration, errors
from kdkeras.io_utils import atomic_path

QUANTIZATIONS = ("float32", "float16", "dynamic_range", "int8")
"""The quantizations `export_litert` supports, from the largest file down."""


def _check_arguments(
    path, quantization, representative_data, num_calibration_examples, integer_io
):
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}. "
            f"Received: quantization={quantization!r}"
        )
    if not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must end with '.tflite'. Received: path={path!r}")
    if quantization == "int8" and representative_data is None:
        raise ValueError(
            "`representative_data` is required for quantization='int8': int8 "
            "quantization calibrates on model inputs such as training images. "
            "Received: representative_data=None"
        )
    if (
        not isinstance(num_calibration_examples, numbers.Integral)
        or isinstance(num_calibration_examples, bool)
        or num_calibration_examples < 1
    ):
        raise ValueError(
            "`num_calibration_examples` must be a positive integer. "
            f"Received: num_calibration_examples={num_calibration_examples!r}"
        )
    if integer_io and quantization != "int8":
        raise ValueError(
            "`integer_io=True` requires quantization='int8'. "
            f"Received: quantization={quantization!r}"
        )


def converter_options(
    model,
    quantization,
    representative_data=None,
    num_calibration_examples=200,
    integer_io=False,
    allow_select_tf_ops=False,
):
    """The `TFLiteConverter` attributes for `quantization`, as Keras takes them.

    `model.export(path, format="litert", **options)` sets each key as an
    attribute of the converter, and the entries of `target_spec` on
    `converter.target_spec`.
    """
    builtins = (
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        if quantization == "int8"
        else tf.lite.OpsSet.TFLITE_BUILTINS
    )
    supported_ops = [builtins]
    if allow_select_tf_ops:
        supported_ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    options = {"target_spec": {"supported_ops": supported_ops}}
    if quantization == "float32":
        return options
    options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif quantization == "int8":
        options["representative_dataset"] = calibration.representative_dataset(
            representative_data,
            model,
            num_calibration_examples,
            argument_name="representative_data",
        )
        io_type = tf.int8 if integer_io else tf.float32
        options["inference_input_type"] = io_type
        options["inference_output_type"] = io_type
    return options


def _convert_with_keras(model, path, options):
    """Keras 3's own LiteRT export (Keras ≥ 3.12, TensorFlow backend)."""
    model.export(path, format="litert", verbose=False, **options)


def _convert_via_saved_model(model, path, options):
    """SavedModel, then `TFLiteConverter.from_saved_model`, for older Keras."""
    with tempfile.TemporaryDirectory() as saved_model_dir:
        model.export(saved_model_dir, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        converter.experimental_enable_resource_variables = True
        for name, value in options.items():
            if name == "target_spec":
                for spec_name, spec_value in value.items():
                    setattr(converter.target_spec, spec_name, spec_value)
            else:
                setattr(converter, name, value)
        flatbuffer = converter.convert()
    with open(path, "wb") as file:
        file.write(flatbuffer)


def _convert(model, path, options):
    try:
        _convert_with_keras(model, path, options)
    except Exception as error:
        if errors.is_converter_error(error):
            raise
        # Keras without the "litert" format, or an exporter that fails on
        # this model: the SavedModel route converts the same graph.
        try:
            _convert_via_saved_model(model, path, options)
        except Exception as fallback_error:
            raise fallback_error from error


def export_litert(
    model,
    path,
    quantization="float32",
    representative_data=None,
    num_calibration_examples=200,
    integer_io=False,
    overwrite=False,
    allow_select_tf_ops=False,
):
    """Exports `model` to a LiteRT (`.tflite`) file for phones and edge devices.

    The file is written atomically: if the export fails or is interrupted,
    no file is left at `path` (and an existing one is kept).

    Example:

    ```python
    (x_train, _), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    kdkeras.export.export_litert(
        student, "student_int8.tflite", quantization="int8",
        representative_data=x_train[..., None],
    )
    ```

    Args:
        model: A Keras model (TensorFlow backend).
        path: Where to write the file; must end with `.tflite`.
        quantization: `"float32"` (no quantization), `"float16"` (weights in
            float16, half the size), `"dynamic_range"` (int8 weights, float
            activations, a quarter of the size) or `"int8"` (full integer
            quantization of weights and activations, for NPUs and
            microcontrollers; needs `representative_data`).
        representative_data: Model inputs to calibrate int8 activation ranges
            on, like the training images: a NumPy array (first axis: examples)
            or a `tf.data.Dataset` of inputs or `(inputs, labels)`, batched or
            not. Required for `"int8"`, unused otherwise.
        num_calibration_examples: How many examples of `representative_data`
            to calibrate on.
        integer_io: With `"int8"`, whether the model's input and output are
            int8 too (see `kdkeras.export.read_input_quantization`); if
            `False` they stay float32 and are quantized inside the model.
        overwrite: Whether an existing file at `path` may be replaced.
        allow_select_tf_ops: Whether ops without a LiteRT builtin kernel may
            run as TensorFlow ops (SELECT_TF_OPS); the app then needs the
            LiteRT Flex delegate.

    Returns:
        `path`, as a string.

    Raises:
        ExportError: If the model uses ops LiteRT cannot run, or (with
            `"int8"`) ops that cannot be quantized to int8.
        FileExistsError: If `path` exists and `overwrite` is `False`.
    """
    _check_arguments(
        path, quantization, representative_data, num_calibration_examples, integer_io
    )
    path = os.fspath(path)
    options = converter_options(
        model,
        quantization,
        representative_data,
        num_calibration_examples,
        integer_io,
        allow_select_tf_ops,
    )
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        try:
            _convert(model, temporary_path, options)
        except Exception as error:
            if errors.is_converter_error(error):
                raise errors.unsupported_ops_error(
                    error, model, quantization
                ) from error
            raise
        if quantization == "int8":
            errors.check_fully_quantized(temporary_path, model)
    return path
