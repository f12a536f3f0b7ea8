"""Adding a QAT int8 model to a `kdkeras.export.save_for_device` directory.

```python
result = kdkeras.optimize.quantize_aware(student, (x_train, y_train), teacher=teacher)
kdkeras.export.save_for_device(student, "saved_models/student", labels, ...)
saved = kdkeras.optimize.save_qat_for_device(
    result, "saved_models/student", labels, check_data=(x_test, y_test)
)
saved["check"]["top1_agreement"], saved["check"]["accuracy"]
```

A convenience over `kdkeras.export.add_variant`, which converts, checks and
writes the files.
"""

import functools

import numpy as np

from kdkeras.export.quantization import Quantization
from kdkeras.export.variants import add_variant
from kdkeras.layers.image_view import LUMA_WEIGHTS
from kdkeras.optimize import bridge
from kdkeras.optimize.qat import QATResult
from kdkeras.validation import require_tensorflow_backend

QAT_VARIANT = "qat_int8"
"""The key of the QAT model under `"variants"` in `metadata.json`."""


def save_qat_for_device(
    qat_result,
    directory,
    labels,
    preprocessing=None,
    overwrite=False,
    check_data=None,
    integer_io=False,
    representative_data=None,
    verbose=0,
    model_info=None,
):
    """Writes a QAT model as the full-integer `"qat_int8"` variant of a package.

    `kdkeras.export.add_variant` of `qat_result.keras_model` (the float
    student it stands for) with `Quantization("int8", integer_io=integer_io,
    quantization_aware=True)`, converting the quantization-aware model
    itself (`qat_device_model`): like the package's other files it ends in a
    softmax (its scores are probabilities) and carries the TFLite metadata
    MediaPipe Tasks reads (the model card of `model_info`, the labels, the
    input's normalization). For a grayscale student it also writes
    `model_qat_int8_rgb.tflite`, taking RGB images converted to grayscale
    inside; that conversion comes before the model's first fake
    quantization, so it is calibrated on `representative_data`: without it
    the RGB file is not written, and the variant's `"mediapipe"` entry says
    why.

    In `directory` (a `save_for_device` directory, or a new one) it writes
    `model_qat_int8.tflite`, int8 inside (checked with the interpreter: no op
    computes in float); adds its details under `"variants"` of
    `metadata.json`, keeping the other variants (`load_device_metadata` reads
    it back); and writes `labels.txt` if it is missing. Every file is written
    atomically, and nothing is written if the conversion or a check fails.

    Args:
        qat_result: A `QATResult` of `quantize_aware`.
        directory: The package directory; created if needed.
        labels: Class names, one per model output; must equal those of an
            existing `metadata.json`.
        preprocessing: What to do to a camera frame; by default that of the
            existing `metadata.json`, else `describe_preprocessing` of the
            student.
        overwrite: Whether an existing `model_qat_int8.tflite` (and its
            variant) may be replaced.
        check_data: Optional `(x, y)`, e.g. the test set: the int8 file is
            compared with the fine-tuned float student
            (`QATResult.keras_model`) and scored on it.
        integer_io: Whether the file takes and returns int8 tensors; needs
            `representative_data`.
        representative_data: Model inputs, for `integer_io=True` and for the
            RGB file of a grayscale student.
        verbose: Progress, as in `add_variant`: `0` (the default) is silent,
            `1` and `2` print a line as the conversion starts and one when
            the checked file is written.
        model_info: The model card embedded in the file (see
            `kdkeras.export.save_for_device`).

    Returns:
        A dict with the paths `"tflite"`, `"labels"`, `"metadata"` and
        `"check"`: `None`, or `compare_with_keras`'s dict plus `"accuracy"`,
        the int8 file's top-1 accuracy on `check_data`.

    Raises:
        FileExistsError: If `model_qat_int8.tflite` exists and `overwrite` is
            `False`.
        ValueError: If `labels` or `preprocessing` differ from those of the
            existing `metadata.json`.
        kdkeras.export.ExportError: If an op of the file stays in float.
        RuntimeError: If Keras does not run on the TensorFlow backend.
    """
    require_tensorflow_backend("kdkeras.optimize.save_qat_for_device")
    if not isinstance(qat_result, QATResult):
        raise TypeError(
            "`qat_result` must be the `QATResult` of "
            "`kdkeras.optimize.quantize_aware`. "
            f"Received: qat_result of type {type(qat_result).__name__}"
        )
    return add_variant(
        qat_result.keras_model,
        directory,
        labels,
        QAT_VARIANT,
        quantization=Quantization(
            "int8", integer_io=integer_io, quantization_aware=True
        ),
        representative_data=representative_data,
        preprocessing=preprocessing,
        overwrite=overwrite,
        check_data=check_data,
        verbose=verbose,
        model_info=model_info,
        device_models=functools.partial(qat_device_model, qat_result.model),
    )


def qat_device_model(qat_model, rgb_input=False):
    """The `tf_keras` model a QAT device file is converted from.

    Args:
        qat_model: The quantization-aware `tf_keras` model
            (`QATResult.model`), which outputs logits or probabilities.
        rgb_input: For a grayscale model, whether the device model takes RGB
            images, converted to grayscale inside by a fixed 1×1 convolution
            with the BT.601 luma weights of `kdkeras.layers.ImageView`.

    Returns:
        `qat_model`, with a softmax at its end when it outputs logits, and
        the RGB input; as a new functional `tf_keras.Model` sharing its
        layers.
    """
    tf_keras = bridge.tf_keras()
    shape = tuple(qat_model.inputs[0].shape[1:])
    if rgb_input:
        inputs = tf_keras.Input((*shape[:-1], 3), name="rgb_image")
        grayscale = tf_keras.layers.Conv2D(
            1, 1, use_bias=False, trainable=False, name="grayscale"
        )
        grayscale.build((None, *shape[:-1], 3))
        grayscale.set_weights([np.reshape(LUMA_WEIGHTS, (1, 1, 3, 1))])
        outputs = qat_model(grayscale(inputs))
    else:
        inputs = tf_keras.Input(shape, name="input")
        outputs = qat_model(inputs)
    if not _ends_in_softmax(qat_model):
        outputs = tf_keras.layers.Softmax(name="probabilities")(outputs)
    return tf_keras.Model(inputs, outputs, name=qat_model.name)


def _ends_in_softmax(qat_model):
    activation = getattr(qat_model.layers[-1], "activation", None)
    return getattr(activation, "__name__", None) == "softmax"
