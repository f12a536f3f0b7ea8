"""Checking a freshly converted `.tflite` file before it takes its final name.

The converter can write files that load but do not run (a custom layer that
fails at another batch size), or that run but answer nonsense (a broken int8
calibration). `verify_tflite` runs the file with the LiteRT interpreter at
batch size 1 and at a larger batch, and compares it with the Keras model; the
exporter raises `ExportError` and writes nothing when it fails.
"""

import itertools

import numpy as np

from kdkeras.export import calibration
from kdkeras.export.converter_errors import ExportError
from kdkeras.export.quantization import as_quantization
from kdkeras.litert.checks import compare_with_keras
from kdkeras.litert.litert_model import LiteRTModel

CHECK_EXAMPLES = 8
"""How many examples the check runs (at batch size 1, then all at once)."""

FLOAT32_TOLERANCE = 1e-3
"""Largest float32 difference from Keras, relative to the largest output."""

MIN_INT8_AGREEMENT = 0.5
"""Smallest int8 top-1 agreement with Keras on calibration examples."""


def check_examples(model, representative_data):
    """Inputs to check a conversion on, or `None` when none can be made.

    The first `CHECK_EXAMPLES` of `representative_data`, else random values in
    [0, 1) of the model's input shape (`None` if that shape is not fixed).
    """
    if representative_data is not None:
        generate = calibration.representative_dataset(
            representative_data, model, CHECK_EXAMPLES, "representative_data"
        )
        return np.stack(
            [batch[0][0] for batch in itertools.islice(generate(), CHECK_EXAMPLES)]
        )
    shape = tuple(model.inputs[0].shape[1:])
    if None in shape:
        return None
    rng = np.random.default_rng(0)
    return rng.uniform(size=(CHECK_EXAMPLES, *shape)).astype("float32")


def verify_tflite(model, tflite_path, quantization, examples, from_data):
    """Raises `ExportError` unless the `.tflite` file runs and follows Keras.

    Checks: it runs at batch size 1 and at batch size `len(examples)`, with
    the same, finite outputs of the Keras model's shape; at batch size 1, it
    follows Keras as `kdkeras.litert.compare_with_keras` measures it: float32
    outputs lie within `FLOAT32_TOLERANCE` of Keras', int8 outputs agree with
    Keras' top-1 on at least `MIN_INT8_AGREEMENT` of calibration examples
    (`from_data`).

    Args:
        model: The Keras (or `tf_keras`) model that was converted.
        tflite_path: The converted file.
        quantization: The `Quantization` (or scheme) it was converted with.
        examples: Model inputs (see `check_examples`).
        from_data: Whether `examples` are real inputs (calibration data).

    Returns:
        What the check measured at batch size 1, for progress lines: a dict
        with `num_examples`, `max_abs_diff` (from Keras' outputs) and
        `top1_agreement` (with Keras' argmax; `None` unless the outputs are
        one score per class).
    """
    scheme = as_quantization(quantization).scheme
    try:
        runner = LiteRTModel(tflite_path)
        one_at_a_time = np.asarray(runner.predict(examples, batch_size=1, verbose=0))
        all_at_once = np.asarray(
            runner.predict(examples, batch_size=len(examples), verbose=0)
        )
    except Exception as error:
        raise ExportError(
            f"The {scheme} LiteRT file does not run: {type(error).__name__}: {error}"
        ) from error
    for outputs, batch_size in ((one_at_a_time, 1), (all_at_once, len(examples))):
        if outputs.shape != one_at_a_time.shape or not np.isfinite(outputs).all():
            raise ExportError(
                f"The {scheme} LiteRT file gives outputs of shape {outputs.shape} "
                f"(finite: {bool(np.isfinite(outputs).all())}) at batch size "
                f"{batch_size}, and {one_at_a_time.shape} at batch size 1."
            )
    try:
        # One at a time: the check is of the file, not of the model's batching.
        comparison = compare_with_keras(
            model, runner, examples, batch_size=1, verbose=0
        )
    except ValueError as error:  # Not the shape of Keras' outputs.
        raise ExportError(
            f"The {scheme} LiteRT file does not follow Keras: {error}"
        ) from error
    scale = max(1.0, comparison["max_abs_keras_output"])
    difference = comparison["max_abs_diff"]
    agreement = comparison["top1_agreement"] if one_at_a_time.ndim == 2 else None
    if scheme == "float32" and difference > FLOAT32_TOLERANCE * scale:
        raise ExportError(
            "The float32 LiteRT file differs from Keras by up to "
            f"{difference:.3g} (allowed {FLOAT32_TOLERANCE * scale:.3g})."
        )
    if scheme == "int8" and from_data and agreement is not None:
        if agreement < MIN_INT8_AGREEMENT:
            raise ExportError(
                f"The int8 LiteRT file agrees with Keras on {agreement:.0%} of "
                f"{len(examples)} calibration examples (at least "
                f"{MIN_INT8_AGREEMENT:.0%} expected): its calibration is broken."
            )
    # Integer kernels may round a batch differently by a quantization step.
    tolerance = (0.05 if scheme == "int8" else 1e-3) * scale
    batch_difference = np.abs(all_at_once - one_at_a_time).max()
    if batch_difference > tolerance:
        raise ExportError(
            f"The {scheme} LiteRT file answers differently at batch size "
            f"{len(examples)} than at batch size 1 (by up to {batch_difference:.3g})."
        )
    return {
        "num_examples": comparison["num_examples"],
        "max_abs_diff": difference,
        "top1_agreement": agreement,
    }
