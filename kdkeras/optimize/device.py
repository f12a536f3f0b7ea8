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

from kdkeras.export.quantization import Quantization
from kdkeras.export.variants import add_variant
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
):
    """Writes a QAT model as the full-integer `"qat_int8"` variant of a package.

    The same as

    ```python
    kdkeras.export.add_variant(
        qat_result.keras_model, directory, labels, "qat_int8",
        quantization=kdkeras.export.Quantization(
            "int8", integer_io=integer_io, quantization_aware=True
        ),
        convert_from=qat_result.model, ...
    )
    ```

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
        representative_data: Model inputs, for `integer_io=True`.
        verbose: Progress, as in `add_variant`: `0` (the default) is silent,
            `1` and `2` print a line as the conversion starts and one when
            the checked file is written.

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
        convert_from=qat_result.model,
        verbose=verbose,
    )
