"""Writing the `.tflite` files of one package variant, metadata embedded.

`write_variant_files` is what `save_for_device` and `add_variant` call for
each variant: it converts the device model (`device_description.device_model`:
softmax at the end) with `export_litert`, embeds the TFLite metadata
described by `describe_file` and the labels file, and checks the result
(`embedded_metadata.write_metadata`) — all before the file takes its name.

For a grayscale image model it writes two files: `model_<variant>.tflite`
takes grayscale images, as the model does (the raw interpreter, kdkeras'
evaluation); `model_<variant>_rgb.tflite` takes RGB images and converts them
to grayscale inside the graph, for MediaPipe Tasks, whose image classifier
takes RGB(A) images only. The variant's entry in `metadata.json` says which
input each file takes (`"input_color"`) and which file MediaPipe runs
(`"mediapipe"`).
"""

import contextlib
import dataclasses
import functools
import os

from kdkeras.compat import is_tf_keras_model
from kdkeras.export import device_description, verify
from kdkeras.export.converter import export_litert
from kdkeras.export.embedded_metadata import write_metadata
from kdkeras.export.metadata import ModelMetadata, output_kind_of
from kdkeras.io_utils import atomic_path

LABELS_FILE = "labels.txt"
"""The name of the labels file, beside the `.tflite` files and inside them."""


def labels_text(labels):
    """The content of `labels.txt`: one class name a line."""
    return "".join(f"{label}\n" for label in labels)


def rgb_path(path):
    """The path of the RGB-input file of a grayscale model's `path`."""
    root, extension = os.path.splitext(os.fspath(path))
    return f"{root}_rgb{extension}"


def _mediapipe_reason(description, metadata):
    """Why MediaPipe's image or text classifier cannot run a file, or `None`."""
    model_input = description["input"]
    if model_input["color_space"] is None:
        return _text_reason(model_input, metadata)
    if model_input["color_space"] != "RGB":
        return "MediaPipe takes RGB images only"
    if metadata.input_dtype == "float32" and model_input["normalization"] is None:
        return (
            "the model's pixel range is unknown: give preprocessing with "
            "'pixel_range' or 'normalization'"
        )
    if metadata.input_dtype != "float32":
        return (
            f"its input tensor is {metadata.input_dtype}: MediaPipe feeds "
            "integer inputs raw pixels (uint8) or pixel - 128 (int8), whatever "
            "their quantization; use the file with float input"
        )
    return None


def _text_reason(model_input, metadata):
    """Why MediaPipe's text classifier cannot run a file, or `None`."""
    if model_input["tokenizer"] is None:
        return "no tokenizer: give save_for_device the text model's tokenizer"
    shape = metadata.input_shape
    if metadata.input_dtype != "int32" or len(shape) != 2 or shape[0] != 1:
        return (
            "MediaPipe's text classifier feeds token ids as int32 of shape "
            f"[1, sequence_length]; this file takes {metadata.input_dtype} "
            f"of shape {shape}"
        )
    return None


def mediapipe_task(description):
    """The MediaPipe Tasks API that runs a file of `description`."""
    if description["input"]["color_space"] is None:
        return "TextClassifier"
    return "ImageClassifier"


def _write_one(source, path, quantization, data, description, files, options):
    """Converts `source` to `path` (a temporary path) and embeds the metadata."""
    export_litert(
        source,
        path,
        quantization=quantization,
        representative_data=data,
        overwrite=True,
        **options,
    )
    keras_model = None if is_tf_keras_model(source) else source
    examples = verify.check_examples(source, data)
    write_metadata(path, description, files, examples, keras_model)


def write_variant_files(
    model,
    path,
    quantization,
    representative_data,
    labels,
    info,
    preprocessing,
    overwrite=False,
    verbose=0,
    progress_label=None,
    convert_from=None,
    tokenizer=None,
    device_models=None,
):
    """Writes a variant's `.tflite` file(s) at `path`; returns its entry.

    Args:
        model: The Keras classifier.
        path: The file's final path, `model_<variant>.tflite`.
        quantization: A `Quantization`.
        representative_data: As in `export_litert` (grayscale inputs for a
            grayscale model; the RGB file is calibrated on them as RGB).
        labels: The class names.
        info: The model card fields (`device_description.model_info`).
        preprocessing: The package's preprocessing.
        overwrite: Whether existing files may be replaced.
        verbose: As in `export_litert`.
        progress_label: As in `export_litert`.
        convert_from: A model to convert instead of the device model of
            `model` (the quantization-aware `tf_keras` model): converted as
            it is, without a softmax or an RGB file.
        device_models: A function `rgb_input -> model`: the models to convert
            instead of `device_description.device_model(model, rgb_input)`
            (a quantization-aware model with a softmax and, for a grayscale
            model's RGB file, the conversion to grayscale). A part of such a
            model before its first fake quantization has no learned range:
            the RGB file is calibrated on `representative_data`, and is not
            written without it.
        tokenizer: For a text model, its `kdkeras.text.WordTokenizer`: the
            file embeds its vocabulary and MediaPipe's regex tokenizer
            options, so MediaPipe Tasks' `TextClassifier` runs it on text.

    Returns:
        `(metadata, mediapipe)`: the file's `ModelMetadata`, and what its
        variant's `"mediapipe"` entry in `metadata.json` says: the `"file"`
        MediaPipe Tasks runs and its `"input_color"` (for a grayscale model,
        also the RGB file's `"input_shape"` and `"embedded_metadata"`), or
        `"file": None` and the `"reason"` why no file of the variant runs
        there.
    """
    channels = device_description.image_channels(model)
    if device_models is None:
        device_models = functools.partial(device_description.device_model, model)
    rgb_quantization = quantization
    if quantization.quantization_aware and not quantization.calibrated:
        rgb_quantization = dataclasses.replace(quantization, quantization_aware=False)
    rgb_file = (
        convert_from is None
        and channels == 1
        and (representative_data is not None or not rgb_quantization.calibrated)
    )
    files = {LABELS_FILE: labels_text(labels).encode("utf-8")}
    tokenizer_options = None
    if tokenizer is not None:
        tokenizer_options = tokenizer.mediapipe_tokenizer()
        files[tokenizer_options["vocab_file"]] = tokenizer.vocabulary_text().encode(
            "utf-8"
        )
    options = {"verbose": verbose, "progress_label": progress_label}
    if convert_from is None:
        source, output_kind = device_models(False), "probabilities"
    else:
        source, output_kind = convert_from, output_kind_of(model)
    description = device_description.describe_file(
        info, channels, preprocessing, output_kind, LABELS_FILE, tokenizer_options
    )
    with contextlib.ExitStack() as stack:
        temporary = stack.enter_context(atomic_path(path, overwrite=overwrite))
        _write_one(
            source,
            temporary,
            quantization,
            representative_data,
            description,
            files,
            options,
        )
        metadata = _metadata(
            temporary, quantization, labels, preprocessing, output_kind
        )
        mediapipe = {
            "file": os.path.basename(path),
            "task": mediapipe_task(description),
            "input_color": metadata.input_color,
        }
        if rgb_file:
            rgb_temporary = stack.enter_context(
                atomic_path(rgb_path(path), overwrite=overwrite)
            )
            description = device_description.describe_file(
                info, 3, preprocessing, output_kind, LABELS_FILE
            )
            options["progress_label"] = f"{progress_label or quantization} RGB input"
            _write_one(
                device_models(True),
                rgb_temporary,
                rgb_quantization,
                device_description.as_rgb(representative_data),
                description,
                files,
                options,
            )
            rgb = _metadata(
                rgb_temporary, quantization, labels, preprocessing, output_kind
            )
            mediapipe = {
                "file": os.path.basename(rgb_path(path)),
                "task": mediapipe_task(description),
                "input_color": rgb.input_color,
                "input_shape": rgb.input_shape,
                "embedded_metadata": rgb.embedded_metadata,
            }
        else:
            rgb = metadata
        reason = _mediapipe_reason(description, rgb)
        if convert_from is None and channels == 1 and not rgb_file:
            reason = (
                "no RGB file: its conversion to grayscale is calibrated on "
                "representative_data, which was not given"
            )
        if reason is not None:
            mediapipe = {"file": None, "reason": reason}
    return metadata, mediapipe


def _metadata(path, quantization, labels, preprocessing, output_kind):
    return ModelMetadata.from_tflite(
        path,
        labels=labels,
        output_kind=output_kind,
        preprocessing=preprocessing,
        quantization=quantization.scheme,
    )
