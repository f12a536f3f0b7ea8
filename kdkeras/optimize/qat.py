"""Quantization-aware training (QAT) of a Keras 3 student, teacher in the loop.

```python
result = kdkeras.optimize.quantize_aware(
    student, (x_train, y_train), teacher=teacher, epochs=2
)
kdkeras.export.export_litert(
    result.model, "student_int8.tflite",
    quantization=kdkeras.export.Quantization("int8", quantization_aware=True),
)
```

or `kdkeras.optimize.save_qat_for_device` for a device package.
"""

import dataclasses
import functools

import keras
import tensorflow as tf

from kdkeras import compat
from kdkeras.distillation.objective import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
from kdkeras.evaluation.sparsity import is_pruned
from kdkeras.optimize import _training, bridge
from kdkeras.validation import require_tensorflow_backend

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
            for `kdkeras.export.export_litert(..., quantization=Quantization(
            "int8", quantization_aware=True))`.
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
    alpha=DEFAULT_ALPHA,
    temperature=DEFAULT_TEMPERATURE,
    validation_data=None,
    output_quantized_layers=DEFAULT_OUTPUT_QUANTIZED_LAYERS,
    preserve_sparsity="auto",
    seed=0,
    verbose=0,
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
            from `kdkeras.caches.compute_teacher_logits`.
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
        verbose: Progress of the fine-tuning, as `fit` shows it: `0` (the
            default) silent, `1` a progress bar, `2` one line per epoch.

    Returns:
        A `QATResult`.

    Raises:
        UnsupportedQuantizationError: If tfmot cannot quantize a layer; the
            message names it and the ways out.
        RuntimeError: If Keras does not run on the TensorFlow backend.
    """
    require_tensorflow_backend("kdkeras.optimize.quantize_aware")
    _training.check_arguments(student, epochs, batch_size, learning_rate)
    verbose = _training.check_verbose(verbose)
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
        qat_model,
        objective,
        dataset,
        validation,
        epochs,
        learning_rate,
        verbose=verbose,
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
    layer = compat.tfmot_unsupported_layer(detail)
    if layer is None:
        return f"tfmot could not quantize {model.name!r}: {detail}"
    name, class_name = layer
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
    average update, `batch = (new − 0.999 · old) / 0.001`
    (`kdkeras.compat.tfmot_batch_range`), sets every range to the mean over
    batches, and restores all other weights (BatchNorm statistics included).

    Args:
        qat_model: A model from `quantize`.
        x: Inputs, e.g. the training images.
        batch_size: Batch size of the forward passes.
        num_batches: Number of batches.
    """
    ranges = compat.tfmot_activation_ranges(qat_model)
    if not ranges:
        return
    saved = [w.numpy() for w in qat_model.weights]
    observed = [[] for _ in ranges]
    for start in range(0, min(len(x), batch_size * num_batches), batch_size):
        before = [w.numpy() for w in ranges]
        qat_model(tf.cast(x[start : start + batch_size], "float32"), training=True)
        for seen, weight, old in zip(observed, ranges, before, strict=True):
            seen.append(compat.tfmot_batch_range(weight.numpy(), old))
        qat_model.set_weights(saved)
        for weight, seen in zip(ranges, observed, strict=True):
            weight.assign(sum(seen) / len(seen))
    for weight, seen in zip(ranges, observed, strict=True):
        weight.assign(sum(seen) / len(seen))


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
