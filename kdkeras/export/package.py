"""Writing a device package: a model and its LiteRT variants, for an app.

`save_for_device` writes the whole package (its layout is described in
`kdkeras.export.package_files`); `kdkeras.export.add_variant` adds one more
`.tflite` file to it.
"""

import os
import time

from kdkeras.export import device_description, package_files
from kdkeras.export.device_export import rgb_path, write_variant_files
from kdkeras.export.metadata import describe_preprocessing
from kdkeras.export.quantization import QUANTIZATIONS, Quantization, as_quantization
from kdkeras.io_utils import atomic_path
from kdkeras.progress import check_verbose, print_step
from kdkeras.validation import keras_model_argument, require_tensorflow_backend
from kdkeras.validation.labels import check_class_names
from kdkeras.version import __version__


def _check_arguments(model, labels, quantizations, representative_data):
    """`quantizations` as a tuple of `Quantization`s of distinct schemes."""
    if isinstance(quantizations, (str, Quantization)):
        quantizations = (quantizations,)
    quantizations = tuple(quantizations)
    try:
        values = tuple(as_quantization(q, "quantizations") for q in quantizations)
    except ValueError:
        values = ()
    schemes = [q.scheme for q in values]
    if not values or len(set(schemes)) != len(schemes):
        raise ValueError(
            "`quantizations` must be distinct schemes among "
            f"{QUANTIZATIONS}, as names or kdkeras.export.Quantization values. "
            f"Received: quantizations={quantizations!r}"
        )
    for quantization in values:
        quantization.check_representative_data(representative_data)
    package_files.check_labels(model, labels)
    return values


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
    tokenizer=None,
    verbose=0,
    model_info=None,
):
    """Writes `model` and its LiteRT variants with what an app needs to run them.

    The layout of `directory` (e.g. `saved_models/<name>/`):

    ```
    model.keras              the Keras model
    model_<scheme>.tflite    one per entry of `quantizations`, ending in a
                             softmax, with TFLite metadata and labels.txt
                             inside (MediaPipe Tasks runs it unchanged)
    model_<scheme>_rgb.tflite  for a grayscale image model: the same, taking
                             RGB images (what MediaPipe feeds)
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

    Each `.tflite` file outputs probabilities (a softmax ends the graph
    when `model` outputs logits) and carries the TFLite metadata MediaPipe
    Tasks' `ImageClassifier` reads: `model_info`, the input's colour space
    and normalization (derived from `preprocessing`: see
    `kdkeras.export.device_description`) and the labels as an associated
    file. `metadata.json` records the same description per file (one
    source), and says which input each file takes and which file MediaPipe
    runs (`"mediapipe"`). Each file is checked before it takes its name:
    converted and run against Keras, then its metadata written, read back
    and compared, and the file run again.

    Each file is written atomically. Nothing is written if one of the files
    exists and `overwrite` is `False`.

    Example:

    ```python
    paths = kdkeras.export.save_for_device(
        student, "saved_models/student", class_names,
        representative_data=x_train[:200],
        quantizations=("float16", kdkeras.export.Quantization("int8", integer_io=True)),
    )
    kdkeras.export.load_device_metadata("saved_models/student")["int8"]
    ```

    Args:
        model: The Keras classifier (e.g. a distilled student), or its `.keras` path.
        directory: The directory to write into; created if needed.
        labels: Class names, one per model output.
        representative_data: Model inputs to calibrate int8 on (see
            `export_litert`); required if `quantizations` includes `"int8"`.
        quantizations: The `.tflite` variants to write: `Quantization`s of
            distinct schemes, or schemes' names for their defaults (a single
            one may be given alone).
        preprocessing: A dict describing what to do to a camera frame;
            by default derived from the model (`describe_preprocessing`).
        overwrite: Whether existing files may be replaced.
        tokenizer: For a text model, the `kdkeras.text.WordTokenizer` of its
            inputs; the default `preprocessing` is then its description.
        model_info: A dict of the model card embedded in each file, some of
            `"name"`, `"description"`, `"version"`, `"author"`, `"license"`
            (strings); the others default to the model's name, a
            description of its classes, `"1"` and empty strings.
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
        `"tflite"` (a dict from scheme to path), `"mediapipe"` (a dict from
        scheme to the file MediaPipe Tasks runs, for image models whose pixel
        range is known) and, with a tokenizer, `"vocabulary"`.
    """
    require_tensorflow_backend("kdkeras.export.save_for_device")
    model = keras_model_argument(model, "model")
    quantizations = _check_arguments(model, labels, quantizations, representative_data)
    # One per output (checked above); each a line of labels.txt: unique,
    # non-empty, no control characters or path separators.
    check_class_names(labels, argument_name="labels")
    info = device_description.model_info(model, labels, model_info)
    verbose = check_verbose(verbose)
    if tokenizer is not None:
        _check_tokenizer(tokenizer, model)
    directory = os.fspath(directory)
    paths = {
        "keras": os.path.join(directory, "model.keras"),
        **package_files.package_paths(directory),
        "tflite": {
            q.scheme: os.path.join(directory, f"model_{q}.tflite")
            for q in quantizations
        },
    }
    all_paths = [paths["keras"], paths["labels"], paths["metadata"]]
    all_paths += paths["tflite"].values()
    if device_description.image_channels(model) == 1:
        all_paths += [rgb_path(path) for path in paths["tflite"].values()]
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

    shared = package_files.shared_fields(labels, preprocessing, tokenizer)
    variants = {}
    paths["mediapipe"] = {}
    for number, quantization in enumerate(quantizations, start=1):
        path = paths["tflite"][quantization.scheme]
        metadata, mediapipe = write_variant_files(
            model,
            path,
            quantization,
            representative_data,
            labels,
            info,
            preprocessing,
            overwrite=overwrite,
            verbose=verbose,
            progress_label=f"[{number}/{len(quantizations)}] {quantization}",
            tokenizer=tokenizer,
        )
        variants[quantization.scheme] = package_files.variant_entry(
            os.path.basename(path), metadata, mediapipe
        )
        if mediapipe["file"] is not None:
            paths["mediapipe"][quantization.scheme] = os.path.join(
                directory, mediapipe["file"]
            )
    package = {**shared, "kdkeras_version": __version__, "variants": variants}
    package_files.write_package(paths, package, replace_labels=True)
    if verbose:
        num_files = len(quantizations) * (
            2 if device_description.image_channels(model) == 1 else 1
        )
        print_step(
            directory,
            f"model.keras, labels.txt, metadata.json and {num_files} LiteRT "
            f"files in {time.perf_counter() - start:.1f} s",
        )
    return paths
