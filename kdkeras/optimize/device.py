"""Adding a QAT int8 model to a `kdkeras.export.save_for_device` directory.

```python
result = kdkeras.optimize.quantize_aware(student, (x_train, y_train), teacher=teacher)
kdkeras.export.save_for_device(student, "saved_models/student", labels, ...)
saved = kdkeras.optimize.save_qat_for_device(
    result, "saved_models/student", labels, check_data=(x_test, y_test)
)
saved["check"]["top1_agreement"], saved["check"]["accuracy"]
```
"""

import json
import os

from kdkeras.export.metadata import (
    ModelMetadata,
    describe_preprocessing,
    output_kind_of,
    write_json,
)
from kdkeras.io_utils import atomic_path
from kdkeras.litert import LiteRTModel, compare_with_keras, evaluate_litert
from kdkeras.optimize.qat import QATResult, export_int8_tflite
from kdkeras.version import __version__

QAT_VARIANT = "qat_int8"
"""The key of the QAT model under `"variants"` in `metadata.json`."""

# The fields every variant of a package shares (as in `save_for_device`).
_SHARED_FIELDS = ("labels", "output_kind", "preprocessing", "kdkeras_version")


def save_qat_for_device(
    qat_result,
    directory,
    labels,
    preprocessing=None,
    overwrite=False,
    check_data=None,
    integer_io=False,
    representative_data=None,
):
    """Writes a QAT model as the full-integer `"qat_int8"` variant of a package.

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
        integer_io: Whether the file takes and returns int8 tensors (see
            `export_int8_tflite`); needs `representative_data`.
        representative_data: Model inputs, for `integer_io=True`.

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
    """
    if not isinstance(qat_result, QATResult):
        raise TypeError(
            "`qat_result` must be the `QATResult` of "
            "`kdkeras.optimize.quantize_aware`. "
            f"Received: qat_result of type {type(qat_result).__name__}"
        )
    model = qat_result.keras_model
    num_classes = model.outputs[0].shape[-1]
    if len(labels) != num_classes:
        raise ValueError(
            f"`labels` must have one name per model output ({num_classes}). "
            f"Received {len(labels)} labels: {list(labels)!r}"
        )
    directory = os.fspath(directory)
    paths = {
        "tflite": os.path.join(directory, f"model_{QAT_VARIANT}.tflite"),
        "labels": os.path.join(directory, "labels.txt"),
        "metadata": os.path.join(directory, "metadata.json"),
    }
    if os.path.exists(paths["tflite"]) and not overwrite:
        raise FileExistsError(
            f"{paths['tflite']!r} already exists. Pass `overwrite=True` to replace it."
        )
    package = _read_package(paths["metadata"])
    described = {
        "labels": [str(label) for label in labels],
        "output_kind": output_kind_of(model),
        "preprocessing": _preprocessing(preprocessing, package, model),
    }
    _check_shared_fields(package, described, paths["metadata"])

    with atomic_path(paths["tflite"], overwrite=overwrite) as temporary_path:
        export_int8_tflite(
            qat_result.model,
            temporary_path,
            overwrite=True,
            integer_io=integer_io,
            representative_data=representative_data,
        )
        metadata = ModelMetadata.from_tflite(
            temporary_path, quantization="int8", **described
        )
        check = None
        if check_data is not None:
            check = _check(model, temporary_path, check_data)
    variant = {
        key: value
        for key, value in metadata.to_dict().items()
        if key not in _SHARED_FIELDS
    }
    if not os.path.exists(paths["labels"]):
        with atomic_path(paths["labels"]) as temporary_path:
            with open(temporary_path, "w", encoding="utf-8") as file:
                file.writelines(f"{label}\n" for label in described["labels"])
    shared = {**described, "kdkeras_version": __version__, **package}
    variants = {
        **package.get("variants", {}),
        QAT_VARIANT: {"file": os.path.basename(paths["tflite"]), **variant},
    }
    write_json({**shared, "variants": variants}, paths["metadata"], overwrite=True)
    return {**paths, "check": check}


def _read_package(metadata_path):
    if not os.path.exists(metadata_path):
        return {}
    with open(metadata_path, encoding="utf-8") as file:
        return json.load(file)


def _preprocessing(preprocessing, package, model):
    if preprocessing is not None:
        return json.loads(json.dumps(preprocessing))
    if "preprocessing" in package:
        return package["preprocessing"]
    return describe_preprocessing(model)


def _check_shared_fields(package, described, metadata_path):
    """All variants of a package share these fields, so they must agree."""
    for key, value in described.items():
        if key in package and package[key] != value:
            raise ValueError(
                f"`{key}` must match the {key!r} of {metadata_path!r}, which "
                f"all its variants share. Received: {value!r}; the file has "
                f"{package[key]!r}"
            )


def _check(model, tflite_path, check_data):
    x, y = check_data
    litert_model = LiteRTModel(tflite_path)
    agreement = compare_with_keras(model, litert_model, x, verbose=0)
    scores = evaluate_litert(litert_model, x, y, verbose=0)
    return {**agreement, "accuracy": scores["accuracy"]}
