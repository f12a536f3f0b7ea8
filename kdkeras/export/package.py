"""Writing a device package: a model and its LiteRT variants, for an app.

`save_for_device` writes the whole package (its layout is described in
`kdkeras.export.package_files`); `kdkeras.export.add_variant` adds one more
`.tflite` file to it.
"""

import os
import time

from kdkeras.export import package_files
from kdkeras.export.converter import QUANTIZATIONS, export_litert
from kdkeras.export.metadata import describe_preprocessing
from kdkeras.io_utils import atomic_path
from kdkeras.progress import check_verbose, print_step
from kdkeras.validation import keras_model_argument, require_tensorflow_backend
from kdkeras.version import __version__


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
    package_files.check_labels(model, labels)
    return quantizations


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
    verbose=0,
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
        verbose: As in Keras (see `kdkeras.progress`): `0` (the default) is
            silent; `1` and `2` print, for each variant, a line as its
            conversion starts and one when its checked file is written
            (see `export_litert`), then a summary, each a line of output:

            ```
            [2/2] int8: calibrating on 200 examples …
            [2/2] int8: converted in 2.6 s, 14.5 KB; checked against Keras
            on 8 inputs: top-1 agreement 1.000, max difference 0.0412
            saved_models/student: model.keras, labels.txt, metadata.json and
            2 LiteRT files in 5.3 s
            ```

            `1` also shows a `keras.utils.Progbar` of the int8 calibration.

    Returns:
        A dict with the paths: `"keras"`, `"labels"`, `"metadata"`,
        `"tflite"` (a dict from quantization to path) and, with a tokenizer,
        `"vocabulary"`.
    """
    require_tensorflow_backend("kdkeras.export.save_for_device")
    model = keras_model_argument(model, "model")
    quantizations = _check_arguments(model, labels, quantizations, representative_data)
    verbose = check_verbose(verbose)
    if tokenizer is not None:
        _check_tokenizer(tokenizer, model)
    directory = os.fspath(directory)
    paths = {
        "keras": os.path.join(directory, "model.keras"),
        **package_files.package_paths(directory),
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

    start = time.perf_counter()
    with atomic_path(paths["keras"], overwrite=overwrite) as temporary_path:
        model.save(temporary_path)
    if tokenizer is not None:
        tokenizer.save_vocabulary(paths["vocabulary"], overwrite=overwrite)

    shared = package_files.shared_fields(model, labels, preprocessing, tokenizer)
    variants = {}
    for number, (quantization, path) in enumerate(paths["tflite"].items(), start=1):
        export_litert(
            model,
            path,
            quantization=quantization,
            representative_data=representative_data,
            integer_io=integer_io and quantization == "int8",
            overwrite=overwrite,
            verbose=verbose,
            progress_label=f"[{number}/{len(quantizations)}] {quantization}",
        )
        variants[quantization] = package_files.variant_entry(
            path, os.path.basename(path), quantization, shared
        )
    package = {**shared, "kdkeras_version": __version__, "variants": variants}
    package_files.write_package(paths, package, replace_labels=True)
    if verbose:
        print_step(
            directory,
            f"model.keras, labels.txt, metadata.json and {len(quantizations)} "
            f"LiteRT files in {time.perf_counter() - start:.1f} s",
        )
    return paths
