"""Exporting a Keras model to a LiteRT (`.tflite`) file, quantized or not.

`export_litert` is kdkeras' one converter: `save_for_device`, `add_variant`
and the QAT path of `kdkeras.optimize` all write their `.tflite` files
through it.
"""

import os
import sys
import tempfile
import time

import tensorflow as tf

from kdkeras.export import calibration, converter_errors, verify
from kdkeras.io_utils import atomic_path
from kdkeras.progress import check_verbose, print_step
from kdkeras.validation import (
    check_positive_int,
    keras_model_argument,
    require_tensorflow_backend,
)

QUANTIZATIONS = ("float32", "float16", "dynamic_range", "int8")
"""The quantizations `export_litert` supports, from the largest file down."""

DEFAULT_CALIBRATION_EXAMPLES = 200
"""How many examples of `representative_data` int8 calibrates on by default."""


def _is_tf_keras_model(model):
    """Whether `model` is a `tf_keras` (Keras 2) model, e.g. tfmot's QAT model.

    Only a process that imported `tf_keras` can hold one.
    """
    tf_keras = sys.modules.get("tf_keras")
    return tf_keras is not None and isinstance(model, tf_keras.Model)


def check_arguments(
    path,
    quantization,
    representative_data,
    num_calibration_examples,
    integer_io,
    quantization_aware=False,
):
    """Raises `ValueError` for arguments `export_litert` cannot convert with."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"`quantization` must be one of {QUANTIZATIONS}. "
            f"Received: quantization={quantization!r}"
        )
    if not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must end with '.tflite'. Received: path={path!r}")
    if quantization_aware and quantization != "int8":
        raise ValueError(
            "`quantization_aware=True` requires quantization='int8'. "
            f"Received: quantization={quantization!r}"
        )
    if quantization == "int8" and representative_data is None:
        if not quantization_aware:
            raise ValueError(
                "`representative_data` is required for quantization='int8': int8 "
                "quantization calibrates on model inputs such as training images. "
                "Received: representative_data=None"
            )
        if integer_io:
            raise ValueError(
                "`representative_data` is required with `integer_io=True`: the "
                "LiteRT converter needs model inputs for int8 input and output "
                "tensors. Received: representative_data=None"
            )
    check_positive_int(num_calibration_examples, "num_calibration_examples")
    if integer_io and quantization != "int8":
        raise ValueError(
            "`integer_io=True` requires quantization='int8'. "
            f"Received: quantization={quantization!r}"
        )


def converter_options(
    model,
    quantization,
    representative_data=None,
    num_calibration_examples=DEFAULT_CALIBRATION_EXAMPLES,
    integer_io=False,
    allow_select_tf_ops=False,
    quantization_aware=False,
    verbose=0,
):
    """The `TFLiteConverter` attributes for `quantization`, as Keras takes them.

    `model.export(path, format="litert", **options)` sets each key as an
    attribute of the converter, and the entries of `target_spec` on
    `converter.target_spec`. With `verbose=1` the calibration of int8 shows
    a `keras.utils.Progbar`.
    """
    # A quantization-aware model carries its int8 ranges: only int8 input and
    # output tensors need calibration (and the int8-only op set).
    calibrated = quantization == "int8" and (integer_io or not quantization_aware)
    builtins = (
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        if calibrated
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
    elif calibrated:
        options["representative_dataset"] = calibration.representative_dataset(
            representative_data,
            model,
            num_calibration_examples,
            argument_name="representative_data",
            verbose=verbose,
        )
        io_type = tf.int8 if integer_io else tf.float32
        options["inference_input_type"] = io_type
        options["inference_output_type"] = io_type
    return options


def _convert_with_keras(model, path, options):
    """Keras 3's own LiteRT export (Keras ≥ 3.12, TensorFlow backend)."""
    model.export(path, format="litert", verbose=False, **options)


def _set_options(converter, options):
    for name, value in options.items():
        if name == "target_spec":
            for spec_name, spec_value in value.items():
                setattr(converter.target_spec, spec_name, spec_value)
        else:
            setattr(converter, name, value)


def _convert_via_saved_model(model, path, options):
    """SavedModel, then `TFLiteConverter.from_saved_model`, for older Keras."""
    with tempfile.TemporaryDirectory() as saved_model_dir:
        model.export(saved_model_dir, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
        converter.experimental_enable_resource_variables = True
        _set_options(converter, options)
        flatbuffer = converter.convert()
    with open(path, "wb") as file:
        file.write(flatbuffer)


def _convert_tf_keras(model, path, options):
    """`TFLiteConverter.from_keras_model`, for a `tf_keras` model."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    _set_options(converter, options)
    flatbuffer = converter.convert()
    with open(path, "wb") as file:
        file.write(flatbuffer)


def _convert(model, path, options):
    if _is_tf_keras_model(model):
        # Keras 3's exporter takes only Keras 3 models.
        _convert_tf_keras(model, path, options)
        return
    try:
        _convert_with_keras(model, path, options)
    except Exception as error:
        if converter_errors.is_converter_error(error):
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
    num_calibration_examples=DEFAULT_CALIBRATION_EXAMPLES,
    integer_io=False,
    overwrite=False,
    allow_select_tf_ops=False,
    quantization_aware=False,
    verbose=0,
    progress_label=None,
    check_against_keras=True,
):
    """Exports `model` to a LiteRT (`.tflite`) file for phones and edge devices.

    The file is written atomically: if the export fails or is interrupted,
    no file is left at `path` (and an existing one is kept). Before it takes
    its name, the file is run with the LiteRT interpreter at batch size 1 and
    8 and compared with Keras (see `kdkeras.export.verify`; not with
    `allow_select_tf_ops`, whose Flex delegate the interpreter lacks).

    Example:

    ```python
    (x_train, _), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    kdkeras.export.export_litert(
        student, "student_int8.tflite", quantization="int8",
        representative_data=x_train[..., None],
    )
    ```

    Args:
        model: A Keras model (TensorFlow backend), the path of one saved as
            `.keras` (loaded with `keras.saving.load_model(path,
            compile=False)`), or a `tf_keras` model such as the
            quantization-aware `kdkeras.optimize.QATResult.model`.
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
        quantization_aware: Whether `model` was trained with fake
            quantization (`kdkeras.optimize.quantize_aware`), so that int8
            keeps the ranges it learned; `representative_data` is then needed
            only for `integer_io=True`. Requires `"int8"`.
        verbose: As in Keras (see `kdkeras.progress`): `0` (the default) is
            silent; `1` and `2` print a line as the conversion starts (e.g.
            `int8: calibrating on 200 examples …`) and one when the checked
            file is written (e.g. `int8: converted in 2.6 s, 14.5 KB; checked
            against Keras on 8 inputs: top-1 agreement 1.000, max difference
            0.0412`); `1` also shows a `keras.utils.Progbar` of the int8
            calibration.
        progress_label: What the progress lines start with; defaults to
            `quantization`. `save_for_device` and `add_variant` number their
            variants with it (`"[2/3] int8"`).
        check_against_keras: Whether the file is run and compared with Keras
            before it takes its name. Only for files that are measured, not
            shipped: an untrained model's logits are so close that int8
            rounding picks its class, so the comparison means nothing
            (`kdkeras.export.choose_student` times untrained candidates).

    Returns:
        `path`, as a string.

    Raises:
        ExportError: If the model uses ops LiteRT cannot run, (with
            `"int8"`) ops that cannot be quantized to int8, or if the file
            fails its check against Keras.
        FileExistsError: If `path` exists and `overwrite` is `False`.
        RuntimeError: If Keras does not run on the TensorFlow backend.
    """
    require_tensorflow_backend("kdkeras.export.export_litert")
    label = quantization if progress_label is None else progress_label
    verbose = check_verbose(verbose)
    check_arguments(
        path,
        quantization,
        representative_data,
        num_calibration_examples,
        integer_io,
        quantization_aware,
    )
    path = os.fspath(path)
    if not _is_tf_keras_model(model):
        # A `.keras` path is loaded; anything else but a Keras model is refused.
        model = keras_model_argument(model, "model")
    options = converter_options(
        model,
        quantization,
        representative_data,
        num_calibration_examples,
        integer_io,
        allow_select_tf_ops,
        quantization_aware,
        verbose,
    )
    calibration_data = options.get("representative_dataset")
    if verbose and calibration_data is not None:
        print_step(label, f"calibrating on {calibration_data.num_examples} examples …")
    elif verbose:
        print_step(label, "converting …")
    start = time.perf_counter()
    check = None
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        try:
            _convert(model, temporary_path, options)
        except Exception as error:
            if converter_errors.is_converter_error(error):
                raise converter_errors.unsupported_ops_error(
                    error, model, quantization
                ) from error
            raise
        if quantization == "int8":
            converter_errors.check_fully_quantized(temporary_path, model)
        examples = verify.check_examples(model, representative_data)
        # Select TF ops need the Flex delegate, which this interpreter lacks.
        if examples is not None and not allow_select_tf_ops and check_against_keras:
            check = verify.verify_tflite(
                model,
                temporary_path,
                quantization,
                examples,
                from_data=representative_data is not None,
            )
    if verbose:
        seconds = time.perf_counter() - start
        size = os.path.getsize(path) / 1024
        print_step(
            label,
            f"converted in {seconds:.1f} s, {size:.1f} KB; {describe_check(check)}",
        )
    return path


def describe_check(check):
    """A `verify_tflite` result in words, for progress lines."""
    if check is None:
        return "not run against Keras (no fixed input shape, or select TF ops)"
    words = f"checked against Keras on {check['num_examples']} inputs: "
    if check["top1_agreement"] is not None:
        words += f"top-1 agreement {check['top1_agreement']:.3f}, "
    return words + f"max difference {check['max_abs_diff']:.3g}"
