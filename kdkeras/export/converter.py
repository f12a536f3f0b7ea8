"""Exporting a Keras model to a LiteRT (`.tflite`) file, quantized or not.

`export_litert` is kdkeras' one converter: `save_for_device`, `add_variant`
and the QAT path of `kdkeras.optimize` all write their `.tflite` files
through it.
"""

import os
import tempfile
import time

import tensorflow as tf

from kdkeras.compat import is_tf_keras_model
from kdkeras.export import calibration, converter_errors, verify
from kdkeras.export.quantization import as_quantization
from kdkeras.io_utils import atomic_path
from kdkeras.progress import check_verbose, print_step
from kdkeras.validation import keras_model_argument, require_tensorflow_backend


def check_arguments(path, quantization, representative_data):
    """`quantization` as a `Quantization`; raises `ValueError` for arguments
    `export_litert` cannot convert with."""
    quantization = as_quantization(quantization)
    if not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must end with '.tflite'. Received: path={path!r}")
    quantization.check_representative_data(representative_data)
    return quantization


def converter_options(
    model, quantization, representative_data=None, allow_select_tf_ops=False, verbose=0
):
    """The `TFLiteConverter` attributes for a `Quantization`, as Keras takes them.

    `model.export(path, format="litert", **options)` sets each key as an
    attribute of the converter, and the entries of `target_spec` on
    `converter.target_spec`. With `verbose=1` the calibration of int8 shows
    a `keras.utils.Progbar`.
    """
    # A quantization-aware model carries its int8 ranges: only int8 input and
    # output tensors need calibration (and the int8-only op set).
    builtins = (
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        if quantization.calibrated
        else tf.lite.OpsSet.TFLITE_BUILTINS
    )
    supported_ops = [builtins]
    if allow_select_tf_ops:
        supported_ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    options = {"target_spec": {"supported_ops": supported_ops}}
    if quantization.scheme == "float32":
        return options
    options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantization.scheme == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif quantization.calibrated:
        options["representative_dataset"] = calibration.representative_dataset(
            representative_data,
            model,
            quantization.num_calibration_examples,
            argument_name="representative_data",
            verbose=verbose,
        )
        io_type = tf.int8 if quantization.integer_io else tf.float32
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
    if is_tf_keras_model(model):
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
    overwrite=False,
    allow_select_tf_ops=False,
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
    kdkeras.export.export_litert(   # int8 input and output tensors too
        student, "student_int8_io.tflite",
        quantization=kdkeras.export.Quantization("int8", integer_io=True),
        representative_data=x_train[..., None],
    )
    ```

    Args:
        model: A Keras model (TensorFlow backend), the path of one saved as
            `.keras` (loaded with `keras.saving.load_model(path,
            compile=False)`), or a `tf_keras` model such as the
            quantization-aware `kdkeras.optimize.QATResult.model`.
        path: Where to write the file; must end with `.tflite`.
        quantization: A `kdkeras.export.Quantization`: the scheme
            (`"float32"`, `"float16"`, `"dynamic_range"` or `"int8"`) and its
            options (calibration examples, int8 input and output tensors,
            quantization-aware training); or a scheme's name, for its
            defaults.
        representative_data: Model inputs to calibrate int8 activation ranges
            on, like the training images: a NumPy array (first axis: examples)
            or a `tf.data.Dataset` of inputs or `(inputs, labels)`, batched or
            not. Required for `"int8"` (but for a quantization-aware model
            without `integer_io`), unused otherwise.
        overwrite: Whether an existing file at `path` may be replaced.
        allow_select_tf_ops: Whether ops without a LiteRT builtin kernel may
            run as TensorFlow ops (SELECT_TF_OPS); the app then needs the
            LiteRT Flex delegate.
        verbose: As in Keras (see `kdkeras.progress`): `0` (the default) is
            silent; `1` and `2` print a line as the conversion starts (e.g.
            `int8: calibrating on 200 examples …`) and one when the checked
            file is written (e.g. `int8: converted in 2.6 s, 14.5 KB; checked
            against Keras on 8 inputs: top-1 agreement 1.000, max difference
            0.0412`); `1` also shows a `keras.utils.Progbar` of the int8
            calibration.
        progress_label: What the progress lines start with; defaults to
            the scheme. `save_for_device` and `add_variant` number their
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
    verbose = check_verbose(verbose)
    quantization = check_arguments(path, quantization, representative_data)
    label = quantization.scheme if progress_label is None else progress_label
    path = os.fspath(path)
    if not is_tf_keras_model(model):
        # A `.keras` path is loaded; anything else but a Keras model is refused.
        model = keras_model_argument(model, "model")
    options = converter_options(
        model, quantization, representative_data, allow_select_tf_ops, verbose
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
                    error, model, quantization.scheme
                ) from error
            raise
        if quantization.scheme == "int8":
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
