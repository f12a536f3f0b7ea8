"""Everything a device app needs, in one directory."""

import json
import os

from kdkeras.export.converter import QUANTIZATIONS, export_litert
from kdkeras.export.metadata import (
    ModelMetadata,
    describe_preprocessing,
    output_kind_of,
    write_json,
)
from kdkeras.io_utils import atomic_path
from kdkeras.version import __version__

# Fields the variants of one package share; the others are per `.tflite` file.
_SHARED_FIELDS = ("labels", "output_kind", "preprocessing", "kdkeras_version")


def _check_arguments(model, labels, quantizations, representative_data):
    if isinstance(quantizations, str):
        quantizations = (quantizations,)
    quantizations = tuple(quantizations)
    unknown = [q for q in quantizations if q not in QUANTIZATIONS]
    if unknown or not quantizations or len(set(quantizations)) != len(quantizations):
        raise ValueError(
            "`quantizations` must be distinct values among "
            f"{QUANTIZATIONS}. Received: quantizations={quantizations!r}"
        )
    if "int8" in quantizations and representative_data is None:
        raise ValueError(
            "`representative_data` is required when `quantizations` includes "
            "'int8'. Received: representative_data=None"
        )
    num_classes = model.outputs[0].shape[-1]
    if len(labels) != num_classes:
        raise ValueError(
            f"`labels` must have one name per model output ({num_classes}). "
            f"Received {len(labels)} labels: {list(labels)!r}"
        )
    return quantizations


def save_for_device(
    model,
    directory,
    labels,
    representative_data=None,
    quantizations=QUANTIZATIONS,
    preprocessing=None,
    overwrite=False,
    integer_io=False,
):
    """Writes `model` and its LiteRT variants with what an app needs to run them.

    The layout of `directory` (e.g. `saved_models/<name>/`):

    ```
    model.keras              the Keras model
    model_<quantization>.tflite   one per entry of `quantizations`
    labels.txt               one class name per line
    metadata.json            shared fields and, under "variants", the file
                             and input/output details of each .tflite
    ```

    Each file is written atomically. Nothing is written if one of the files
    exists and `overwrite` is `False`.

    Args:
        model: The Keras classifier (e.g. a distilled student).
        directory: The directory to write into; created if needed.
        labels: Class names, one per model output.
        representative_data: Model inputs to calibrate int8 on (see
            `export_litert`); required if `quantizations` includes `"int8"`.
        quantizations: The `.tflite` variants to write.
        preprocessing: A dict describing what to do to a camera frame;
            by default derived from the model (`describe_preprocessing`).
        overwrite: Whether existing files may be replaced.
        integer_io: Whether the int8 variant takes and returns int8 tensors.

    Returns:
        A dict with the paths: `"keras"`, `"labels"`, `"metadata"` and
        `"tflite"` (a dict from quantization to path).
    """
    quantizations = _check_arguments(model, labels, quantizations, representative_data)
    directory = os.fspath(directory)
    paths = {
        "keras": os.path.join(directory, "model.keras"),
        "labels": os.path.join(directory, "labels.txt"),
        "metadata": os.path.join(directory, "metadata.json"),
        "tflite": {
            q: os.path.join(directory, f"model_{q}.tflite") for q in quantizations
        },
    }
    all_paths = [paths["keras"], paths["labels"], paths["metadata"]]
    all_paths += paths["tflite"].values()
    existing = [path for path in all_paths if os.path.exists(path)]
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing} already exist. Pass `overwrite=True` to replace them."
        )
    if preprocessing is None:
        preprocessing = describe_preprocessing(model)
    os.makedirs(directory, exist_ok=True)

    with atomic_path(paths["keras"], overwrite=overwrite) as temporary_path:
        model.save(temporary_path)
    with atomic_path(paths["labels"], overwrite=overwrite) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            file.writelines(f"{label}\n" for label in labels)

    described = {
        "labels": [str(label) for label in labels],
        "output_kind": output_kind_of(model),
        "preprocessing": preprocessing,
    }
    shared = {**described, "kdkeras_version": __version__}
    variants = {}
    for quantization, path in paths["tflite"].items():
        export_litert(
            model,
            path,
            quantization=quantization,
            representative_data=representative_data,
            integer_io=integer_io and quantization == "int8",
            overwrite=overwrite,
        )
        metadata = ModelMetadata.from_tflite(
            path, quantization=quantization, **described
        )
        variant = {
            key: value
            for key, value in metadata.to_dict().items()
            if key not in _SHARED_FIELDS
        }
        variants[quantization] = {"file": os.path.basename(path), **variant}
    write_json({**shared, "variants": variants}, paths["metadata"], overwrite=overwrite)
    return paths


def load_device_metadata(directory):
    """Reads a `save_for_device` directory's `metadata.json`.

    Returns:
        A dict from quantization to its `ModelMetadata`.
    """

    with open(os.path.join(directory, "metadata.json"), encoding="utf-8") as file:
        data = json.load(file)
    variants = data.pop("variants")
    return {
        quantization: ModelMetadata.from_dict(
            {k: v for k, v in fields.items() if k != "file"} | data
        )
        for quantization, fields in variants.items()
    }
