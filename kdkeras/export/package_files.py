"""The files of a device package: their paths, `labels.txt` and `metadata.json`.

```
model.keras                   the Keras model (`save_for_device`)
model_<variant>.tflite        one per variant: a quantization, or a name given
                              to `add_variant` such as "qat_int8"; with TFLite
                              metadata and labels.txt inside (MediaPipe Tasks)
model_<variant>_rgb.tflite    for a grayscale image model: the same, taking
                              RGB images (MediaPipe takes RGB only)
labels.txt                    one class name per line
vocab.txt                     with `tokenizer=`: the tokenizer's vocabulary
metadata.json                 the shared fields and, under "variants", the file
                              and input/output details of each .tflite, its
                              embedded metadata and the file MediaPipe runs
```

`save_for_device` (`kdkeras.export.package`) writes a package, `add_variant`
(`kdkeras.export.variants`) adds a `.tflite` file to one; both write
`labels.txt` and `metadata.json` through `write_package`, and
`load_device_metadata` reads them back.
"""

import json
import os

from kdkeras.export.device_export import labels_text
from kdkeras.export.metadata import ModelMetadata, write_json
from kdkeras.io_utils import atomic_path
from kdkeras.validation import check_single_output

SHARED_FIELDS = (
    "labels",
    "preprocessing",
    "kdkeras_version",
    "tokenizer",
)
"""The fields of `metadata.json` all variants share; the others are per file
(`"output_kind"` too: a quantization-aware variant may output logits where the
others, ending in a softmax, output probabilities)."""


def check_labels(model, labels):
    """Raises unless `labels` holds one class name per output of `model`."""
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


def package_paths(directory):
    """The paths of `labels.txt` and `metadata.json` in `directory`."""
    return {
        "labels": os.path.join(directory, "labels.txt"),
        "metadata": os.path.join(directory, "metadata.json"),
    }


def shared_fields(labels, preprocessing, tokenizer=None):
    """The fields every variant of a package shares, version aside."""
    fields = {
        "labels": [str(label) for label in labels],
        "preprocessing": json.loads(json.dumps(preprocessing)),
    }
    if tokenizer is not None:
        fields["tokenizer"] = tokenizer.get_config()
    return fields


def variant_entry(file_name, metadata, mediapipe):
    """The `"variants"` entry of a `.tflite` file: its name, its tensor
    details and embedded metadata (a `ModelMetadata`), and `"mediapipe"` (see
    `kdkeras.export.device_export.write_variant_files`)."""
    details = {
        key: value
        for key, value in metadata.to_dict().items()
        if key not in SHARED_FIELDS
    }
    return {"file": file_name, **details, "mediapipe": mediapipe}


def write_package(paths, package, replace_labels):
    """Writes `labels.txt` and `metadata.json`: the one writer of both.

    Args:
        paths: The dict of `package_paths`.
        package: The whole content of `metadata.json`: the shared fields and
            `"variants"`.
        replace_labels: Whether an existing `labels.txt` is rewritten; it is
            written anyway when missing.
    """
    if replace_labels or not os.path.exists(paths["labels"]):
        with atomic_path(paths["labels"], overwrite=True) as temporary_path:
            with open(temporary_path, "w", encoding="utf-8") as file:
                file.write(labels_text(package["labels"]))
    write_json(package, paths["metadata"], overwrite=True)


def read_package(metadata_path):
    """The content of `metadata.json`, or `{}` when there is none."""
    if not os.path.exists(metadata_path):
        return {}
    with open(metadata_path, encoding="utf-8") as file:
        return json.load(file)


def check_shared_fields(package, shared, metadata_path):
    """All variants of a package share these fields, so they must agree."""
    for key, value in shared.items():
        if key in package and package[key] != value:
            raise ValueError(
                f"`{key}` must match the {key!r} of {metadata_path!r}, which "
                f"all its variants share. Received: {value!r}; the file has "
                f"{package[key]!r}"
            )


def load_device_metadata(directory):
    """Reads a `save_for_device` directory's `metadata.json`.

    Returns:
        A dict from quantization to its `ModelMetadata`.
    """

    with open(os.path.join(directory, "metadata.json"), encoding="utf-8") as file:
        data = json.load(file)
    variants = data.pop("variants")
    return {
        quantization: ModelMetadata.from_dict(data | fields)
        for quantization, fields in variants.items()
    }
