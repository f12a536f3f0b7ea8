"""Quantization-aware training (QAT) of a Keras 3 student, teacher in the loop.

```python
result = kdkeras.optimize.quantize_aware(
    student, (x_train, y_train), teacher=teacher, epochs=2
)
kdkeras.optimize.export_int8_tflite(result.model, "student_int8.tflite")
```
"""

import dataclasses
import functools
import re

import keras
import tensorflow as tf

from kdkeras.evaluation.sparsity import is_pruned
from kdkeras.export import calibration, errors
from kdkeras.io_utils import atomic_path
from kdkeras.optimize import _training, bridge

# Input preprocessing that tfmot's 8-bit scheme does not support: it runs in
# float, and only its output is quantized, so the next layer gets int8 inputs.
DEFAULT_OUTPUT_QUANTIZED_LAYERS = ("Rescaling", "Normalization")


class UnsupportedQuantizationError(ValueError):
    """tfmot cannot quantize a layer of the model."""


@dataclasses.dataclass
class QATResult:
    """What `quantize_aware` returns.

    Attributes:
        model: The quantization-aware `tf_keras` model (fake-quantized), ready
            for `export_int8_tflite`.
        float_model: The `tf_keras` rebuild of the student before QAT.
        history: Per-epoch `loss`, `accuracy` (and `val_*`) of the fine-tuning.
        keras_model: A Keras 3 copy of the student with the fine-tuned float
            weights: what the int8 file approximates (`compare_with_keras`).
    """

    model: object
    float_model: object
    history: dict
    keras_model: object


def quantize_aware(
    student,
    data,
    teacher=None,
    teacher_logits=None,
    teacher_outputs="auto",
    epochs=2,
    batch_size=64,
    learning_rate=1e-4,
    alpha=0.1,
    temperature=3.0,
    validation_data=None,
    output_quantized_layers=DEFAULT_OUTPUT_QUANTIZED_LAYERS,
    preserve_sparsity="auto",
    seed=0,
):
    """Fine-tunes `student` with fake 8-bit quantization on the distillation loss.

    The student is rebuilt in `tf_keras` (checked to give the same outputs),
    wrapped by tfmot's `quantize_apply` and trained on

    ```
    loss = alpha · CE(labels, s) + (1 − alpha) · T² · KL(softmax(t/T) ‖ softmax(s/T))
    ```

    the loss of `kdkeras.Distiller` (Hinton et al., 2015, arXiv:1503.02531),
    with `t` from `teacher` run on each batch or from stored `teacher_logits`.
    Without either, it is plain QAT on the labels. QAT itself follows Jacob et
    al., 2018, "Quantization and Training of Neural Networks for Efficient
    Integer-Arithmetic-Only Inference", arXiv:1712.05877.

    Args:
        student: A Keras 3 model that outputs logits, of layers that exist in
            `tf_keras` (see `kdkeras.optimize.to_tf_keras`).
        data: `(x, y)` arrays, `y` integer class ids.
        teacher: Optional Keras 3 teacher, frozen and run with
            `training=False`.
        teacher_logits: Optional array `(n, classes)` aligned with `x`, e.g.
            from `kdkeras.offline.compute_teacher_logits`.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`, as for
            `Distiller`.
        epochs: Fine-tuning epochs; QAT needs few.
        batch_size: Batch size.
        learning_rate: Adam learning rate; smaller than for training from
            scratch, since the student is already trained.
        alpha: Weight in [0, 1] of the label loss.
        temperature: Softening temperature `T > 0`.
        validation_data: Optional `(x_val, y_val)`; scored on the labels.
        output_quantized_layers: Class names of layers run in float with only
            their output quantized (tfmot does not support them).
        preserve_sparsity: Whether the zeros of a pruned student stay zero,
            with tfmot's prune-preserving scheme
            (`Default8BitPrunePreserveQuantizeScheme`), which masks the
            kernels; without it, QAT turns most pruned zeros into small
            weights. `"auto"`: when the student is pruned
            (`kdkeras.sparsity.is_pruned`).
        seed: Shuffling seed.

    Returns:
        A `QATResult`.

    Raises:
        UnsupportedQuantizationError: If tfmot cannot quantize a layer; the
            message names it and the ways out.
    """
    # Checked before the student is rebuilt in tf_keras, which takes a while.
    if preserve_sparsity == "auto":
        preserve_sparsity = is_pruned(student)
    elif not isinstance(preserve_sparsity, bool):
        raise ValueError(
            '`preserve_sparsity` must be True, False or "auto". '
            f"Received: preserve_sparsity={preserve_sparsity!r}"
        )
    objective, dataset, validation, _, float_model = _training.prepare(
        student,
        data,
        alpha,
        temperature,
        teacher=teacher,
        teacher_logits=teacher_logits,
        teacher_outputs=teacher_outputs,
        validation_data=validation_data,
        batch_size=batch_size,
        seed=seed,
    )
    qat_model = quantize(float_model, output_quantized_layers, preserve_sparsity)
    calibrate_activation_ranges(qat_model, data[0], batch_size=batch_size)
    history = _training.fit(
        qat_model, objective, dataset, validation, epochs, learning_rate
    )
    keras_model = bridge.to_keras3(qat_model, keras.models.clone_model(student))
    return QATResult(
        model=qat_model,
        float_model=float_model,
        history=history,
        keras_model=keras_model,
    )


def quantize(
    tf_keras_model,
    output_quantized_layers=DEFAULT_OUTPUT_QUANTIZED_LAYERS,
    preserve_sparsity=False,
):
    """Wraps a `tf_keras` model for QAT with tfmot's default 8-bit scheme.

    Args:
        tf_keras_model: A `tf_keras` functional or `Sequential` model.
        output_quantized_layers: Class names of layers run in float with only
            their output quantized.
        preserve_sparsity: Whether to use tfmot's prune-preserving variant of
            the scheme, which keeps the kernels' zeros at zero.

    Returns:
        The quantization-aware `tf_keras` model.
    """
    tfk = bridge.tf_keras()
    tfmot = bridge.tfmot()
    quantization = tfmot.quantization.keras
    scheme = (
        tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        if preserve_sparsity
        else quantization.default_8bit.Default8BitQuantizeScheme()
    )
    output_config = _output_quantize_config_class()
    output_quantized = tuple(output_quantized_layers)

    def annotate(layer):
        if type(layer).__name__ in output_quantized:
            return quantization.quantize_annotate_layer(layer, output_config())
        return quantization.quantize_annotate_layer(layer)

    try:
        annotated = tfk.models.clone_model(tf_keras_model, clone_function=annotate)
        with quantization.quantize_scope({output_config.__name__: output_config}):
            return quantization.quantize_apply(annotated, scheme)
    except (RuntimeError, ValueError, TypeError) as error:
        raise UnsupportedQuantizationError(
            _unsupported_message(tf_keras_model, str(error))
        ) from None


def _unsupported_message(model, detail):
    match = re.search(r"Layer (\S+?):<class '[\w.]*?(\w+)'>", detail)
    if match is None:
        return f"tfmot could not quantize {model.name!r}: {detail}"
    name, class_name = match.groups()
    return (
        f"tfmot cannot quantize layer {name!r} ({class_name}) of {model.name!r}. "
        "Ways out: move it out of the model (e.g. do the preprocessing in the "
        "data pipeline); or quantize only its output with "
        f"`output_quantized_layers=(..., {class_name!r})`; or give it a "
        "`tfmot.quantization.keras.QuantizeConfig` through "
        "`quantize_annotate_layer`."
    )


def calibrate_activation_ranges(qat_model, x, batch_size=64, num_batches=8):
    """Sets the activation ranges of a QAT model to those seen on `x`, in place.

    tfmot starts every activation range at [-6, 6] and moves it by an
    exponential moving average of decay 0.999 per training step, so a short
    fine-tuning keeps ranges far from the data (inputs in [0, 1] get 1/12 of
    the 256 levels; logits beyond ±6 are clipped). This runs `num_batches`
    training-mode forward passes, recovers each batch's range from the moving
    average update, `batch = (new − 0.999 · old) / 0.001`, sets every range to
    the mean over batches, and restores all other weights (BatchNorm
    statistics included).

    Args:
        qat_model: A model from `quantize`.
        x: Inputs, e.g. the training images.
        batch_size: Batch size of the forward passes.
        num_batches: Number of batches.
    """
    ranges = [w for w in qat_model.non_trainable_weights if _is_activation_range(w)]
    if not ranges:
        return
    saved = [w.numpy() for w in qat_model.weights]
    observed = [[] for _ in ranges]
    for start in range(0, min(len(x), batch_size * num_batches), batch_size):
        before = [w.numpy() for w in ranges]
        qat_model(tf.cast(x[start : start + batch_size], "float32"), training=True)
        for seen, weight, old in zip(observed, ranges, before, strict=True):
            seen.append((weight.numpy() - _EMA_DECAY * old) / (1.0 - _EMA_DECAY))
        qat_model.set_weights(saved)
        for weight, seen in zip(ranges, observed, strict=True):
            weight.assign(sum(seen) / len(seen))
    for weight, seen in zip(ranges, observed, strict=True):
        weight.assign(sum(seen) / len(seen))


_EMA_DECAY = 0.999
# Variables of tfmot's MovingAverageQuantizer (activations); kernel ranges are
# recomputed from the weights at each step and need no calibration.
_ACTIVATION_RANGE_SUFFIXES = tuple(
    f"{kind}_{end}"
    for kind in ("output", "pre_activation", "post_activation")
    for end in ("min", "max")
)


def _is_activation_range(weight):
    return weight.name.split(":")[0].endswith(_ACTIVATION_RANGE_SUFFIXES)


@functools.cache
def _output_quantize_config_class():
    """A tfmot `QuantizeConfig` that leaves weights float, quantizes the output."""
    quantization = bridge.tfmot().quantization.keras

    class OutputQuantizeConfig(quantization.QuantizeConfig):
        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return [
                quantization.quantizers.MovingAverageQuantizer(
                    num_bits=8, per_axis=False, symmetric=False, narrow_range=False
                )
            ]

        def get_config(self):
            return {}

    OutputQuantizeConfig.__name__ = "KdkerasOutputQuantizeConfig"
    return OutputQuantizeConfig


def export_int8_tflite(
    qat_model,
    path,
    overwrite=False,
    integer_io=False,
    representative_data=None,
    num_calibration_examples=100,
):
    """Converts a quantization-aware `tf_keras` model to a full-integer `.tflite`.

    Weights and activations become int8 with the ranges learned during QAT.
    The interpreter then checks that no op computes in float (else
    `kdkeras.export.ExportError`, naming the ops). The file is written
    atomically.

    Args:
        qat_model: `QATResult.model`.
        path: Destination `.tflite` path.
        overwrite: Whether an existing file may be replaced.
        integer_io: Whether the input and output tensors are int8 too; by
            default they stay float32, so the file takes the same inputs as
            the Keras model.
        representative_data: Model inputs (e.g. training images); required
            with `integer_io=True`, for which the converter insists on them.
            The QAT ranges stay as learned.
        num_calibration_examples: How many of them the converter sees.

    Returns:
        `path`.
    """
    if integer_io and representative_data is None:
        raise ValueError(
            "`representative_data` is required with `integer_io=True`: the "
            "LiteRT converter needs model inputs for int8 input and output "
            "tensors. Received: representative_data=None"
        )
    converter = tf.lite.TFLiteConverter.from_keras_model(qat_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if integer_io:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.representative_dataset = calibration.representative_dataset(
            representative_data,
            qat_model,
            num_calibration_examples,
            argument_name="representative_data",
        )
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    flatbuffer = converter.convert()
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        with open(temporary_path, "wb") as file:
            file.write(flatbuffer)
        errors.check_fully_quantized(temporary_path, qat_model)
    return path
