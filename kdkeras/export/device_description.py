"""What a device file is, in one description: the file's metadata and the app's.

`describe_file` builds the description of one `.tflite` file of a device
package — model name, description, version, author and licence, the input
(colour space, normalization) and the output (probabilities over the labels
of `labels.txt`). It is the one source of both copies of this information:
`kdkeras.export.embedded_metadata` writes it into the file (the TFLite
metadata that MediaPipe Tasks reads) and `metadata.json` records it under
the variant's `"embedded_metadata"`.

The normalization is derived, not typed: `describe_preprocessing` finds
which pixel values the model takes (`[0, 255]` when it rescales its input
itself, with a `keras.layers.Rescaling` or `kdkeras.layers.ImageView`), and
`input_normalization` turns that range into the mean and standard deviation
MediaPipe applies to `[0, 255]` pixels: `(pixel - mean) / std`. For a model
that rescales itself these are 0 and 1; its own preprocessing stays in the
graph.

`device_model` is the Keras model a device file is converted from: the model,
a softmax at its end when it outputs logits (so that an app's
`score_threshold` and `max_results` apply to probabilities), and for a
grayscale image model that MediaPipe is to run an RGB input converted to
grayscale inside the graph (`kdkeras.layers.ImageView(channels=1)`, the
luma of ITU-R BT.601, which gives back the grey value of a grey RGB pixel).
"""

import keras
import numpy as np
import tensorflow as tf

from kdkeras.export.metadata import output_kind_of
from kdkeras.layers.image_view import ImageView
from kdkeras.version import __version__

MODEL_INFO_FIELDS = ("name", "description", "version", "author", "license")
"""The keys of `model_info`: the model card fields embedded in each file."""

_COLOR_SPACES = {1: "GRAYSCALE", 3: "RGB"}


def image_channels(model):
    """The channels of an image model's `(height, width, channels)` input
    (1 or 3), or `None` for a model over other inputs."""
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) == 3 and shape[-1] in _COLOR_SPACES:
        return int(shape[-1])
    return None


def model_info(model, labels, info=None):
    """The model card fields of `model`'s files: `info` over the defaults.

    Args:
        model: The Keras model (its name is the default `"name"`).
        labels: Its class names.
        info: `None` or a dict with some of `MODEL_INFO_FIELDS` (strings).

    Raises:
        ValueError: If `info` has another key or a value that is not a string.
    """
    info = {} if info is None else dict(info)
    unknown = sorted(set(info) - set(MODEL_INFO_FIELDS))
    if unknown or not all(isinstance(value, str) for value in info.values()):
        raise ValueError(
            f"`model_info` must map some of {MODEL_INFO_FIELDS} to strings. "
            f"Received: model_info={info!r}"
        )
    kind = "Image" if image_channels(model) else "Text" if _takes_ids(model) else ""
    defaults = {
        "name": model.name,
        "description": (
            f"{kind} classifier of {len(labels)} classes "
            f"({', '.join(map(str, labels[:5]))}{', …' if len(labels) > 5 else ''}), "
            f"exported by kdkeras {__version__}."
        ).lstrip(),
        "version": "1",
        "author": "",
        "license": "",
    }
    return {**defaults, **info}


def _takes_ids(model):
    return "int" in str(model.inputs[0].dtype)


def input_normalization(preprocessing, channels):
    """MediaPipe's `(pixel - mean) / std` for a model's pixel range.

    Args:
        preprocessing: The package's preprocessing (`describe_preprocessing`
            or the user's): a `"normalization"` dict (`"mean"`, `"std"`, one
            value or one per channel) is taken as is; else a `"pixel_range"`
            `[low, high]` — what `[0, 255]` pixels must become — gives them.
        channels: The channels of the file's input.

    Returns:
        `{"mean": [...], "std": [...]}` with one float per channel, or `None`
        when `preprocessing` says neither (the model's pixel range is then
        unknown, and MediaPipe cannot feed a float input).
    """
    given = preprocessing.get("normalization")
    if given is None and preprocessing.get("pixel_range") is not None:
        low, high = (float(v) for v in preprocessing["pixel_range"])
        std = 255.0 / (high - low)
        given = {"mean": (0.0 - low) * std, "std": std}
    if given is None:
        return None
    fields = {}
    for key in ("mean", "std"):
        values = np.ravel(np.asarray(given[key], dtype=np.float32))
        if values.size == 1:
            values = np.repeat(values, channels)
        fields[key] = [float(v) for v in values]
    return fields


def describe_file(
    info, channels, preprocessing, output_kind, labels_file="labels.txt", tokenizer=None
):
    """The description of one device file (see `kdkeras.export.tflite_metadata`).

    Args:
        info: The model card fields (`model_info`).
        channels: The channels of the file's image input (1 or 3), or `None`
            for a model over other inputs.
        preprocessing: The package's preprocessing (see `input_normalization`).
        output_kind: `"probabilities"` or `"logits"`: what the file outputs.
        labels_file: The name of the labels file, embedded in the file too.
        tokenizer: For a text model, the regex tokenizer MediaPipe Tasks
            runs (`WordTokenizer.mediapipe_tokenizer()`: its
            `"delim_regex_pattern"` and `"vocab_file"`, embedded too).
    """
    scores = (
        "Probabilities (softmax) of the classes"
        if output_kind == "probabilities"
        else "Scores (logits) of the classes"
    )
    if channels is None:
        model_input = {
            "name": "input",
            "description": preprocessing.get("description", "As in training."),
            "color_space": None,
            "normalization": None,
            "stats": None,
            "tokenizer": None if tokenizer is None else dict(tokenizer),
        }
    else:
        color = _COLOR_SPACES[channels]
        normalization = input_normalization(preprocessing, channels)
        pixels = "pixels in [0, 255]" if normalization is not None else "pixels"
        model_input = {
            "name": "image",
            "description": f"{color} image, {pixels}, float32, NHWC.",
            "color_space": color,
            "normalization": normalization,
            "stats": None
            if normalization is None
            else {"min": [0.0] * channels, "max": [255.0] * channels},
            "tokenizer": None,
        }
    return {
        **info,
        "min_parser_version": "1.0.0",
        "input": model_input,
        "output": {
            "name": output_kind if output_kind == "logits" else "probability",
            "description": f"{scores}, in the order of {labels_file}.",
            "labels_file": labels_file,
        },
    }


def device_model(model, rgb_input=False):
    """The Keras model a device file of `model` is converted from.

    Args:
        model: A single-output Keras classifier.
        rgb_input: For a grayscale image model, whether the device model
            takes RGB images (converted to grayscale inside).

    Returns:
        `model` itself when it ends in a softmax and keeps its input; else a
        functional model: [RGB → grayscale] → `model` → [softmax].
    """
    logits = output_kind_of(model) == "logits"
    if not logits and not rgb_input:
        return model
    shape = tuple(model.inputs[0].shape[1:])
    if rgb_input:
        inputs = keras.Input((*shape[:-1], 3), name="rgb_image")
        outputs = model(ImageView(channels=1, name="grayscale")(inputs))
    else:
        inputs = keras.Input(shape, dtype=model.inputs[0].dtype, name="input")
        outputs = model(inputs)
    if logits:
        outputs = keras.layers.Softmax(name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name=model.name)


def as_rgb(data):
    """Grayscale model inputs `(N, H, W, 1)` as RGB `(N, H, W, 3)`: a NumPy
    array, or a `tf.data.Dataset` of inputs or of `(inputs, labels, ...)`."""
    if data is None:
        return None
    if isinstance(data, tf.data.Dataset):

        def to_rgb(*elements):
            images = tf.repeat(elements[0], 3, axis=-1)
            return images if len(elements) == 1 else (images, *elements[1:])

        return data.map(to_rgb)
    return np.repeat(np.asarray(data), 3, axis=-1)
