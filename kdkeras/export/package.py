"""Everything a device app needs, in one directory.

```
model.keras                   the Keras model (`save_for_device`)
model_<variant>.tflite        one per variant: a quantization, or a name given
                              to `add_variant` such as "qat_int8"
labels.txt                    one class name per line
vocab.txt                     with `tokenizer=`: the tokenizer's vocabulary
metadata.json                 the shared fields and, under "variants", the file
                              and input/output details of each .tflite
```

`save_for_device` writes a package, `add_variant` adds a `.tflite` file to
one; both write `labels.txt` and `metadata.json` through `_write_package`.
"""

import json
import os
import re

from kdkeras.evaluation.scoring import evaluate_model
from kdkeras.export.converter import (
    DEFAULT_CALIBRATION_EXAMPLES,
    QUANTIZATIONS,
    check_arguments,
    export_litert,
)
from kdkeras.export.metadata import (
    ModelMetadata,
    describe_preprocessing,
    output_kind_of,
    write_json,
)
from kdkeras.io_utils import atomic_path
from kdkeras.litert.checks import compare_with_keras
from kdkeras.litert.runner import LiteRTModel
from kdkeras.validation import (
    check_single_output,
    keras_model_argument,
    require_tensorflow_backend,
)
from kdkeras.version import __version__

SHARED_FIELDS = (
    "labels",
    "output_kind",
    "preprocessing",
    "kdkeras_version",
    "tokenizer",
)
"""The fields of `metadata.json` all variants share; the others are per file."""

_VARIANT_NAME = re.compile(r"[A-Za-z0-9_]+")


def _check_labels(model, labels):
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
        raise TypeError(
            "`labels` must be a list of class names, one per model output. "
            f"Received: labels={labels!r}"
        )
    check_single_output(model, "model")
    num_classes = model.outputs[0].shape[-1]
    if len(labels) != num_classes:
        raise ValueError(
            f"`labels` must have one name per model output ({num_classes}). "
            f"Received {len(labels)} labels: {list(labels)!r}"
        )


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
    _check_labels(model, labels)
    return quantizations


def _paths(directory):
    return {
        "labels": os.path.join(directory, "labels.txt"),
        "metadata": os.path.join(directory, "metadata.json"),
    }


def _shared_fields(model, labels, preprocessing, tokenizer=None):
    """The fields every variant of `model`'s package shares, version aside."""
    fields = {
        "labels": [str(label) for label in labels],
        "output_kind": output_kind_of(model),
        "preprocessing": json.loads(json.dumps(preprocessing)),
    }
    if tokenizer is not None:
        fields["tokenizer"] = tokenizer.get_config()
    return fields


def _check_tokenizer(tokenizer, model):
    """A `WordTokenizer` whose ids fit `model`'s input and embedding."""
    from kdkeras.text.tokenizer import WordTokenizer

    if not isinstance(tokenizer, WordTokenizer):
        raise TypeError(
            "`tokenizer` must be a kdkeras.text.WordTokenizer or None. "
            f"Received: tokenizer of type {type(tokenizer).__name__}"
        )
    shape = tuple(model.inputs[0].shape[1:])
    if shape != (tokenizer.sequence_length,):
        raise ValueError(
            "`tokenizer` must make the token ids `model` takes: sequences of "
            f"{shape} ids. Received: tokenizer.sequence_length="
            f"{tokenizer.sequence_length}"
        )


def _variant(tflite_path, file_name, quantization, shared):
    """The `"variants"` entry of a `.tflite` file: its name and tensor details."""
    metadata = ModelMetadata.from_tflite(
        tflite_path, quantization=quantization, **shared
    )
    details = {
        key: value
        for key, value in metadata.to_dict().items()
        if key not in SHARED_FIELDS
    }
    return {"file": file_name, **details}


def _write_package(paths, package, replace_labels):
    """Writes `labels.txt` and `metadata.json`: the one writer of both.

    Args:
        paths: The dict of `_paths`.
        package: The whole content of `metadata.json`: the shared fields and
            `"variants"`.
        replace_labels: Whether an existing `labels.txt` is rewritten; it is
            written anyway when missing.
    """
    if replace_labels or not os.path.exists(paths["labels"]):
        with atomic_path(paths["labels"], overwrite=True) as temporary_path:
            with open(temporary_path, "w", encoding="utf-8") as file:
                file.writelines(f"{label}\n" for label in package["labels"])
    write_json(package, paths["metadata"], overwrite=True)


def save_for_device(
    model,
    directory,
    labels,
    representative_data=None,
    quantizations=QUANTIZATIONS,
    preprocessing=None,
    overwrite=False,
    integer_io=False,
    tokenizer=None,
):
    """Writes `model` and its LiteRT variants with what an app needs to run them.

    The layout of `directory` (e.g. `saved_models/<name>/`):

    ```
    model.keras              the Keras model
    model_<quantization>.tflite   one per entry of `quantizations`
    labels.txt               one class name per line
    vocab.txt                with `tokenizer`: its vocabulary, one token a line
    metadata.json            shared fields and, under "variants", the file
                             and input/output details of each .tflite
    ```

    A model over token ids takes `tokenizer`, the
    `kdkeras.text.WordTokenizer` that made its training ids: its vocabulary
    goes to `vocab.txt` and its settings to `"tokenizer"` in
    `metadata.json`, so that an app (or `WordTokenizer.from_package`)
    makes the same ids from the package's files alone.

    Each file is written atomically. Nothing is written if one of the files
    exists and `overwrite` is `False`.

    Example:

    ```python
    paths = kdkeras.export.save_for_device(
        student, "saved_models/student", class_names,
        representative_data=x_train[:200],
    )
    kdkeras.export.load_device_metadata("saved_models/student")["int8"]
    ```

    Args:
        model: The Keras classifier (e.g. a distilled student), or its `.keras` path.
        directory: The directory to write into; created if needed.
        labels: Class names, one per model output.
        representative_data: Model inputs to calibrate int8 on (see
            `export_litert`); required if `quantizations` includes `"int8"`.
        quantizations: The `.tflite` variants to write.
        preprocessing: A dict describing what to do to a camera frame;
            by default derived from the model (`describe_preprocessing`).
        overwrite: Whether existing files may be replaced.
        integer_io: Whether the int8 variant takes and returns int8 tensors.
        tokenizer: For a text model, the `kdkeras.text.WordTokenizer` of its
            inputs; the default `preprocessing` is then its description.

    Returns:
        A dict with the paths: `"keras"`, `"labels"`, `"metadata"`,
        `"tflite"` (a dict from quantization to path) and, with a tokenizer,
        `"vocabulary"`.
    """
    require_tensorflow_backend("kdkeras.export.save_for_device")
    model = keras_model_argument(model, "model")
    quantizations = _check_arguments(model, labels, quantizations, representative_data)
    if tokenizer is not None:
        _check_tokenizer(tokenizer, model)
    directory = os.fspath(directory)
    paths = {
        "keras": os.path.join(directory, "model.keras"),
        **_paths(directory),
        "tflite": {
            q: os.path.join(directory, f"model_{q}.tflite") for q in quantizations
        },
    }
    all_paths = [paths["keras"], paths["labels"], paths["metadata"]]
    all_paths += paths["tflite"].values()
    if tokenizer is not None:
        paths["vocabulary"] = os.path.join(
            directory, tokenizer.get_config()["vocabulary_file"]
        )
        all_paths.append(paths["vocabulary"])
    existing = [path for path in all_paths if os.path.exists(path)]
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing} already exist. Pass `overwrite=True` to replace them."
        )
    if preprocessing is None and tokenizer is not None:
        preprocessing = tokenizer.describe()
    elif preprocessing is None:
        preprocessing = describe_preprocessing(model)
    os.makedirs(directory, exist_ok=True)

    with atomic_path(paths["keras"], overwrite=overwrite) as temporary_path:
        model.save(temporary_path)
    if tokenizer is not None:
        tokenizer.save_vocabulary(paths["vocabulary"], overwrite=overwrite)

    shared = _shared_fields(model, labels, preprocessing, tokenizer)
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
        variants[quantization] = _variant(
            path, os.path.basename(path), quantization, shared
        )
    package = {**shared, "kdkeras_version": __version__, "variants": variants}
    _write_package(paths, package, replace_labels=True)
    return paths


def add_variant(
    model,
    directory,
    labels,
    variant,
    quantization="int8",
    representative_data=None,
    num_calibration_examples=DEFAULT_CALIBRATION_EXAMPLES,
    integer_io=False,
    preprocessing=None,
    overwrite=False,
    check_data=None,
    convert_from=None,
    quantization_aware=False,
):
    """Adds one `.tflite` variant to a device package, keeping the others.

    In `directory` (a `save_for_device` directory, or a new one) it writes
    `model_<variant>.tflite`, converted by `export_litert` (with `"int8"`,
    checked with the interpreter: no op computes in float); adds its details
    under `"variants"` of `metadata.json`, keeping the other variants
    (`load_device_metadata` reads it back); and writes `labels.txt` if it is
    missing. Every file is written atomically, and nothing is written if the
    conversion or a check fails.

    Example, the QAT model of `kdkeras.optimize.quantize_aware` (what
    `kdkeras.optimize.save_qat_for_device` does):

    ```python
    result = kdkeras.optimize.quantize_aware(student, (x_train, y_train))
    saved = kdkeras.export.add_variant(
        result.keras_model, "saved_models/student", class_names, "qat_int8",
        convert_from=result.model, quantization_aware=True,
        check_data=(x_test, y_test),
    )
    saved["check"]["top1_agreement"], saved["check"]["accuracy"]
    ```

    Args:
        model: The Keras 3 classifier the variant stands for (or its
            `.keras` path): it gives the output kind and the default
            preprocessing, and `check_data` compares the file with it.
        directory: The package directory; created if needed.
        labels: Class names, one per model output; must equal those of an
            existing `metadata.json`.
        variant: The variant's name (letters, digits, `_`): its key under
            `"variants"` and the file name `model_<variant>.tflite`.
        quantization: One of `QUANTIZATIONS`, passed to `export_litert` and
            recorded in the variant's metadata.
        representative_data: Model inputs to calibrate int8 on (see
            `export_litert`).
        num_calibration_examples: How many of them the converter sees.
        integer_io: Whether an int8 file takes and returns int8 tensors.
        preprocessing: What to do to a camera frame; by default that of the
            existing `metadata.json`, else `describe_preprocessing(model)`.
        overwrite: Whether an existing `model_<variant>.tflite` (and its
            entry) may be replaced.
        check_data: Optional `(x, y)`, e.g. the test set: the file is
            compared with `model` and scored on it.
        convert_from: The model to convert, if not `model`: e.g. the
            quantization-aware `tf_keras` model `QATResult.model`, whose float
            counterpart `QATResult.keras_model` is then `model`.
        quantization_aware: Whether the converted model was trained with fake
            quantization (see `export_litert`).

    Returns:
        A dict with the paths `"tflite"`, `"labels"`, `"metadata"` and
        `"check"`: `None`, or `kdkeras.litert.compare_with_keras`'s dict plus
        `"accuracy"`, the file's top-1 accuracy on `check_data`.

    Raises:
        FileExistsError: If `model_<variant>.tflite` exists and `overwrite`
            is `False`.
        ValueError: If `labels` or `preprocessing` differ from those of the
            existing `metadata.json`.
        kdkeras.export.ExportError: If the model cannot be converted, or an
            op of an int8 file stays in float.
        RuntimeError: If Keras does not run on the TensorFlow backend.
    """
    require_tensorflow_backend("kdkeras.export.add_variant")
    model = keras_model_argument(model, "model")
    if not isinstance(variant, str) or not _VARIANT_NAME.fullmatch(variant):
        raise ValueError(
            "`variant` must be a name of letters, digits and underscores, such "
            f'as "qat_int8". Received: variant={variant!r}'
        )
    _check_labels(model, labels)
    directory = os.fspath(directory)
    paths = {"tflite": os.path.join(directory, f"model_{variant}.tflite")}
    paths.update(_paths(directory))
    check_arguments(
        paths["tflite"],
        quantization,
        representative_data,
        num_calibration_examples,
        integer_io,
        quantization_aware,
    )
    if os.path.exists(paths["tflite"]) and not overwrite:
        raise FileExistsError(
            f"{paths['tflite']!r} already exists. Pass `overwrite=True` to replace it."
        )
    package = _read_package(paths["metadata"])
    if preprocessing is None and "preprocessing" in package:
        preprocessing = package["preprocessing"]
    elif preprocessing is None:
        preprocessing = describe_preprocessing(model)
    shared = _shared_fields(model, labels, preprocessing)
    _check_shared_fields(package, shared, paths["metadata"])

    with atomic_path(paths["tflite"], overwrite=overwrite) as temporary_path:
        export_litert(
            model if convert_from is None else convert_from,
            temporary_path,
            quantization=quantization,
            representative_data=representative_data,
            num_calibration_examples=num_calibration_examples,
            integer_io=integer_io,
            overwrite=True,
            quantization_aware=quantization_aware,
        )
        entry = _variant(
            temporary_path, os.path.basename(paths["tflite"]), quantization, shared
        )
        check = (
            None if check_data is None else _check(model, temporary_path, check_data)
        )
    variants = {**package.get("variants", {}), variant: entry}
    package = {**shared, "kdkeras_version": __version__, **package}
    _write_package(paths, {**package, "variants": variants}, replace_labels=False)
    return {**paths, "check": check}


def _read_package(metadata_path):
    if not os.path.exists(metadata_path):
        return {}
    with open(metadata_path, encoding="utf-8") as file:
        return json.load(file)


def _check_shared_fields(package, shared, metadata_path):
    """All variants of a package share these fields, so they must agree."""
    for key, value in shared.items():
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
    scores = evaluate_model(litert_model, x, y)
    return {**agreement, "accuracy": scores["accuracy"]}


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
