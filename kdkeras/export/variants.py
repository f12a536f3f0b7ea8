"""Adding one `.tflite` variant to a device package, keeping the others.

`add_variant` writes `model_<variant>.tflite` into a `save_for_device`
directory (or a new one) and its entry under `"variants"` of
`metadata.json`, e.g. the QAT int8 model of `kdkeras.optimize` or a pruned
student's files.
"""

import os
import re
import time

from kdkeras.evaluation.scoring import evaluate_model
from kdkeras.export import device_description, package_files
from kdkeras.export.converter import check_arguments
from kdkeras.export.device_export import write_variant_files
from kdkeras.export.metadata import describe_preprocessing
from kdkeras.litert.checks import compare_with_keras
from kdkeras.litert.litert_model import LiteRTModel
from kdkeras.progress import check_verbose, print_step
from kdkeras.validation import keras_model_argument, require_tensorflow_backend
from kdkeras.version import __version__

_VARIANT_NAME = re.compile(r"[A-Za-z0-9_]+")


def add_variant(
    model,
    directory,
    labels,
    variant,
    quantization="int8",
    representative_data=None,
    preprocessing=None,
    overwrite=False,
    check_data=None,
    convert_from=None,
    verbose=0,
    model_info=None,
    device_models=None,
):
    """Adds one `.tflite` variant to a device package, keeping the others.

    In `directory` (a `save_for_device` directory, or a new one) it writes
    `model_<variant>.tflite`, converted by `export_litert` (with `"int8"`,
    checked with the interpreter: no op computes in float), with its TFLite
    metadata as `save_for_device` writes it (and, for a grayscale image
    model, `model_<variant>_rgb.tflite` for MediaPipe); adds its details
    under `"variants"` of `metadata.json`, keeping the other variants
    (`load_device_metadata` reads it back); and writes `labels.txt` if it is
    missing. Every file is written atomically, and nothing is written if the
    conversion or a check fails.

    Example, a pruned student beside the package's other files:

    ```python
    saved = kdkeras.export.add_variant(
        pruned_student, "saved_models/student", class_names, "pruned_int8",
        quantization="int8", representative_data=x_train[:200],
        check_data=(x_test, y_test),
    )
    saved["check"]["top1_agreement"], saved["check"]["accuracy"]
    ```

    (`kdkeras.optimize.save_qat_for_device` adds a quantization-aware model
    through `device_models`.)

    Args:
        model: The Keras 3 classifier the variant stands for (or its
            `.keras` path): it gives the output kind and the default
            preprocessing, and `check_data` compares the file with it.
        directory: The package directory; created if needed.
        labels: Class names, one per model output; must equal those of an
            existing `metadata.json`.
        variant: The variant's name (letters, digits, `_`): its key under
            `"variants"` and the file name `model_<variant>.tflite`.
        quantization: A `kdkeras.export.Quantization`, or a scheme's name
            for its defaults: passed to `export_litert`, its scheme recorded
            in the variant's metadata.
        representative_data: Model inputs to calibrate int8 on (see
            `export_litert`).
        preprocessing: What to do to a camera frame; by default that of the
            existing `metadata.json`, else `describe_preprocessing(model)`.
        overwrite: Whether an existing `model_<variant>.tflite` (and its
            entry) may be replaced.
        check_data: Optional `(x, y)`, e.g. the test set: the file is
            compared with `model` and scored on it.
        convert_from: The model to convert, if not `model`: e.g. the
            quantization-aware `tf_keras` model `QATResult.model`, whose float
            counterpart `QATResult.keras_model` is then `model` (and
            `quantization` is quantization-aware). It is converted as it is:
            without a softmax at its end or an RGB-input file.
        device_models: Instead, a function `rgb_input -> model` giving the
            models to convert: the file's (`rgb_input=False`) and, for a
            grayscale image model, the RGB file's; by default
            `device_description.device_model(model, rgb_input)`.
            `kdkeras.optimize.save_qat_for_device` gives the quantization-
            aware model with a softmax (and the conversion to grayscale).
        verbose: As in Keras (see `kdkeras.progress`): `0` (the default) is
            silent; `1` and `2` print the conversion's lines (see
            `export_litert`), starting with `variant`, and one line of the
            check on `check_data`; `1` also shows progress bars of the
            calibration and of the check's predictions.
        model_info: The model card embedded in the file (see
            `save_for_device`).

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
    package_files.check_labels(model, labels)
    verbose = check_verbose(verbose)
    directory = os.fspath(directory)
    paths = {"tflite": os.path.join(directory, f"model_{variant}.tflite")}
    paths.update(package_files.package_paths(directory))
    quantization = check_arguments(paths["tflite"], quantization, representative_data)
    if os.path.exists(paths["tflite"]) and not overwrite:
        raise FileExistsError(
            f"{paths['tflite']!r} already exists. Pass `overwrite=True` to replace it."
        )
    package = package_files.read_package(paths["metadata"])
    if preprocessing is None and "preprocessing" in package:
        preprocessing = package["preprocessing"]
    elif preprocessing is None:
        preprocessing = describe_preprocessing(model)
    shared = package_files.shared_fields(labels, preprocessing)
    package_files.check_shared_fields(package, shared, paths["metadata"])
    info = device_description.model_info(model, labels, model_info)
    tokenizer = None
    if "tokenizer" in package:
        # A text package: the new file embeds the same tokenizer.
        from kdkeras.text import WordTokenizer

        tokenizer = WordTokenizer.from_package(directory)

    metadata, mediapipe = write_variant_files(
        model,
        paths["tflite"],
        quantization,
        representative_data,
        labels,
        info,
        preprocessing,
        overwrite=overwrite,
        verbose=verbose,
        progress_label=variant,
        convert_from=convert_from,
        tokenizer=tokenizer,
        device_models=device_models,
    )
    entry = package_files.variant_entry(
        os.path.basename(paths["tflite"]), metadata, mediapipe
    )
    check = None
    if check_data is not None:
        # Like with like: a package file ends in a softmax (and may take RGB),
        # so it is compared with the model it was converted from.
        reference = model
        if convert_from is None:
            reference = device_description.device_model(model)
        check = _check(reference, paths["tflite"], check_data, verbose, variant)
    variants = {**package.get("variants", {}), variant: entry}
    package = {**shared, "kdkeras_version": __version__, **package}
    package_files.write_package(
        paths, {**package, "variants": variants}, replace_labels=False
    )
    return {**paths, "check": check}


def _check(model, tflite_path, check_data, verbose, label):
    """Compares the file with `model` on `check_data` and scores it."""
    x, y = check_data
    start = time.perf_counter()
    litert_model = LiteRTModel(tflite_path)
    agreement = compare_with_keras(model, litert_model, x, verbose=int(verbose == 1))
    scores = evaluate_model(litert_model, x, y, verbose=int(verbose == 1))
    if verbose:
        print_step(
            label,
            f"checked on {agreement['num_examples']} examples: top-1 agreement "
            f"{agreement['top1_agreement']:.3f}, accuracy {scores['accuracy']:.4f} "
            f"({time.perf_counter() - start:.1f} s)",
        )
    return {**agreement, "accuracy": scores["accuracy"]}
