"""What an app needs to know to feed a `.tflite` model and read its output."""

import dataclasses
import json

import keras

from kdkeras.distillation.outputs import ends_in_softmax
from kdkeras.export.embedded_metadata import read_metadata
from kdkeras.io_utils import atomic_path
from kdkeras.layers.image_view import ImageView
from kdkeras.litert.litert_model import LiteRTModel, tensor_quantization
from kdkeras.models.layer_walk import walk_layers
from kdkeras.version import __version__

_COLORS = {1: "grayscale", 3: "rgb"}


def _tensor_details(details, kind):
    scale, zero_point = tensor_quantization(details, kind)
    return {
        "shape": [int(d) for d in details["shape"]],
        "dtype": details["dtype"].__name__,
        "scale": scale,
        "zero_point": zero_point,
    }


def read_io_details(tflite_path):
    """Reads the input and output tensor details of a single-input `.tflite`.

    Returns:
        A dict with `input_shape`, `input_dtype`, `input_scale`,
        `input_zero_point` and the same four for `output_`. Scales are `None`
        and zero points 0 for tensors that are not quantized (the convention
        of `kdkeras.litert.litert_model.tensor_quantization`). A real value `x` is
        fed to an int8 input as `round(x / input_scale) + input_zero_point`.
    """
    model = LiteRTModel(tflite_path)
    (input_details,) = model.input_details
    (output_details,) = model.output_details
    fields = {}
    for prefix, details in (("input", input_details), ("output", output_details)):
        for key, value in _tensor_details(details, prefix).items():
            fields[f"{prefix}_{key}"] = value
    return fields


def read_input_quantization(tflite_path):
    """`(scale, zero_point)` of a `.tflite` file's input; `(None, 0)` if float."""
    fields = read_io_details(tflite_path)
    return fields["input_scale"], fields["input_zero_point"]


def _rescales(model):
    """Whether `model` takes [0, 255] pixels: it rescales them itself."""
    return any(
        isinstance(layer, (keras.layers.Rescaling, ImageView))
        for layer in walk_layers(model)
    )


def describe_preprocessing(model):
    """What to do to a camera frame before `model` sees it, in words and data.

    Derived from the model's input shape and whether it has a `Rescaling`
    layer (as `kdkeras.models.build_cnn` does) or a `kdkeras.layers.ImageView`:
    then it takes pixels in [0, 255] (`"pixel_range"`), from which
    `kdkeras.export.device_description` derives the normalization embedded
    in the `.tflite` files. Pass your own description to
    `save_for_device` when the model was trained on something else.
    """
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3:
        return {"description": f"Feed inputs of shape {shape} as in training."}
    height, width, channels = shape
    color = _COLORS.get(channels, f"{channels} channels")
    if _rescales(model):
        scale = "pixels in [0, 255] as float32; the model rescales"
        pixel_range = [0, 255]
    else:
        scale = "as in training; the model does not rescale pixels"
        pixel_range = None
    return {
        "resize": [height, width],
        "color": color,
        "layout": "NHWC",
        "pixel_range": pixel_range,
        "scale": scale,
        "description": (
            f"Resize the frame to {height}x{width} pixels, convert it to "
            f"{color} and feed {scale}."
        ),
    }


@dataclasses.dataclass
class ModelMetadata:
    """How to feed one `.tflite` model and read its output.

    Example:

    ```python
    metadata = ModelMetadata.from_tflite(
        "model_int8.tflite", labels=class_names, output_kind="logits",
        preprocessing=describe_preprocessing(student), quantization="int8",
    )
    metadata.save("metadata.json")
    assert ModelMetadata.load("metadata.json") == metadata
    ```

    Attributes:
        labels: Class names, indexed by output position.
        input_shape: Shape of the input tensor, batch axis included.
        input_dtype: `"float32"`, `"int8"`, ...
        input_scale: Quantization scale of the input, `None` for float input.
        input_zero_point: Quantization zero point of the input, 0 for float.
        output_kind: `"logits"` or `"probabilities"`.
        preprocessing: What to do to a camera frame (see
            `describe_preprocessing`).
        quantization: One of `kdkeras.export.QUANTIZATIONS`.
        output_shape, output_dtype, output_scale, output_zero_point: The same
            details for the output tensor; dequantize an int8 output with
            `(q - output_zero_point) * output_scale`.
        kdkeras_version: The kdkeras version that wrote the model.
        tokenizer: For a model over token ids, the settings of the tokenizer
            that makes them (`kdkeras.text.WordTokenizer.get_config`; its
            vocabulary file is in the package); `None` otherwise.
        embedded_metadata: The TFLite metadata inside the file (what
            MediaPipe Tasks reads; see `kdkeras.export.tflite_metadata`),
            `None` for a file without.
        input_color: `"rgb"` or `"grayscale"`: the images the file takes
            (from its embedded metadata); `None` for other inputs.
    """

    labels: list
    input_shape: list
    input_dtype: str
    input_scale: float | None
    input_zero_point: int
    output_kind: str
    preprocessing: dict
    quantization: str
    output_shape: list | None = None
    output_dtype: str = "float32"
    output_scale: float | None = None
    output_zero_point: int = 0
    kdkeras_version: str = __version__
    tokenizer: dict | None = None
    embedded_metadata: dict | None = None
    input_color: str | None = None

    def __post_init__(self):
        # Stored as JSON types, so that a JSON round trip gives an equal object.
        self.labels = [str(label) for label in self.labels]
        self.input_shape = [int(d) for d in self.input_shape]
        if self.output_shape is not None:
            self.output_shape = [int(d) for d in self.output_shape]
        self.preprocessing = json.loads(json.dumps(self.preprocessing))
        if self.tokenizer is not None:
            self.tokenizer = json.loads(json.dumps(self.tokenizer))
        if self.embedded_metadata is not None:
            self.embedded_metadata = json.loads(json.dumps(self.embedded_metadata))
        if self.output_kind not in ("logits", "probabilities"):
            raise ValueError(
                "`output_kind` must be 'logits' or 'probabilities'. "
                f"Received: output_kind={self.output_kind!r}"
            )

    @classmethod
    def from_tflite(
        cls,
        tflite_path,
        labels,
        output_kind,
        preprocessing,
        quantization,
        tokenizer=None,
    ):
        """Reads the tensor details and the embedded metadata of `tflite_path`
        and adds the given fields."""
        embedded, _ = read_metadata(tflite_path)
        color = None if embedded is None else embedded["input"]["color_space"]
        return cls(
            embedded_metadata=embedded,
            input_color=None if color is None else color.lower(),
            labels=list(labels),
            output_kind=output_kind,
            preprocessing=preprocessing,
            quantization=quantization,
            tokenizer=tokenizer,
            **read_io_details(tflite_path),
        )

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields):
        """From `to_dict`'s fields; other keys (a variant's `"file"` and
        `"mediapipe"` in `metadata.json`) are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in fields.items() if key in names})

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))

    def save(self, path, overwrite=False):
        """Writes the JSON to `path` atomically."""
        write_json(self.to_dict(), path, overwrite=overwrite)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as file:
            return cls.from_json(file.read())


def output_kind_of(model):
    """`"probabilities"` if `model` ends in a softmax, else `"logits"`."""
    return "probabilities" if ends_in_softmax(model) else "logits"


def write_json(data, path, overwrite=False):
    """Writes `data` as indented UTF-8 JSON to `path` atomically."""
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            json.dump(data, file, indent=2, ensure_ascii=False)
            file.write("\n")
