"""The commented starter config `kdkeras init` writes.

Without data it runs the demo (the embedded Fashion-MNIST subset); with an
image folder it names the folder, its classes, the image size most of its
images have (longest side at most `MAX_IMAGE_SIDE`) and their colour mode;
a folder of `.txt` files per class (and no images) gets a text config
(`kdkeras.cli.text_starter_config`).
"""

import collections
import os

from kdkeras.cli.config_sections import (
    closing_sections,
    distill_training_keys,
    header,
    scratch_section,
)
from kdkeras.cli.text_starter_config import count_text_files, text_starter_config
from kdkeras.pipeline.data import class_folders

MAX_IMAGE_SIDE = 224
"""The largest image side `init` proposes: the size ImageNet backbones take."""

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""What `keras.utils.image_dataset_from_directory` reads."""

_SAMPLED_IMAGES = 200

_DATA_EMBEDDED = """\
data:
  # embedded_fashion_mnist (in the package), fashion_mnist, mnist,
  # npz (path: arrays x_train, y_train[, x_test, y_test, class_names])
  # or image_folder (path: one sub-folder per class).
  source: embedded_fashion_mnist
  validation_split: 0.1   # of the training images, held out (seeded)
"""

_DATA_FOLDER = """\
data:
  source: image_folder
  path: {path}
  # {num_classes} classes found ({counts}).
  image_size: [{height}, {width}]   # every image is resized to it
  color_mode: {color_mode}
  validation_split: 0.1   # held out for validation (seeded)
  test_split: 0.2         # held out for the report; or give test_path: FOLDER
"""

_MODELS = """\
teacher:
  # A keras.applications preset fine-tuned in two stages (head, then the top
  # 20 layers), or path: a saved .keras teacher taking these images, or
  # paths: [a.keras, b.keras] (several, their logits averaged; weighted by
  # ensemble_weights: [2, 1]).
  preset: mobilenet_v2
  weights: imagenet      # imagenet (downloads), none, or a .weights.h5 / .h5
  width: 0.35
  image_size: [{teacher_side}, {teacher_side}]
  head_epochs: 2
  fine_tune_epochs: 2
  batch_size: 64

student:
  architecture: cnn      # cnn, mlp, mobilenet_v2, mobilenet_v3_small, …
  filters: [8, 16]
  pooling: flatten

"""

_DISTILL = """\
distill:
  loss: kd               # any kdkeras.losses name: kd, dkd, kd_standardized, …
  # loss: {name: dkd, target_weight: 1.0, non_target_weight: 8.0}  # with arguments
  alpha: 0.1             # weight of the label loss; or a schedule:
  # alpha: {schedule: linear, start: 1.0, end: 0.1, epochs: 5}
  temperature: 2.0       # or {schedule: cosine, start: 8, end: 2} (linear, constant)
  mode: online           # or offline (teacher logits cached once)
  # features:            # with a ready functional teacher.path, online only
  #   - {kind: hint, teacher_layer: block2_relu, student_layer: block1_relu}
"""

_OPTIONAL = """
# augmentation:          # the same shifted/flipped views for scratch and distill
#   shift: 2             # pixels; for an image folder, with distill.mode online
#   horizontal_flip: true

# optimize:              # quantization-aware training or pruning
#   method: qat          # or prune (target_sparsity: 0.5)
#   epochs: 1

"""

_EPOCHS = 15
_BATCH_SIZE = 64


def describe_image_folder(directory, max_images=_SAMPLED_IMAGES):
    """What `init` needs to know about an image folder.

    Returns:
        A dict: `class_names`, `counts` (images per class), `image_size`
        (`(height, width)` of most sampled images) and `color_mode`
        (`"grayscale"` if every sampled image is, else `"rgb"`).

    Raises:
        ValueError: If the folder has fewer than two class folders of images.
    """
    from PIL import Image

    class_names = class_folders(directory)
    counts, sampled = {}, []
    for class_name in class_names:
        files = sorted(
            entry.path
            for entry in os.scandir(os.path.join(directory, class_name))
            if entry.name.lower().endswith(IMAGE_EXTENSIONS)
        )
        counts[class_name] = len(files)
        sampled += files[: max(1, max_images // max(1, len(class_names)))]
    with_images = [name for name in class_names if counts[name]]
    if len(with_images) < 2:
        raise ValueError(
            f"`--data` must be a folder with one sub-folder of images (or of "
            f".txt files) per class (at least 2). Received: {directory} with "
            f"sub-folders {class_names} holding {sum(counts.values())} images"
        )
    sizes, modes = collections.Counter(), set()
    for path in sampled:
        with Image.open(path) as image:
            sizes[(image.height, image.width)] += 1
            modes.add(image.mode)
    height, width = sizes.most_common(1)[0][0]
    scale = min(1.0, MAX_IMAGE_SIDE / max(height, width))
    return {
        "class_names": class_names,
        "counts": counts,
        "image_size": (max(1, round(height * scale)), max(1, round(width * scale))),
        "color_mode": "grayscale" if modes <= {"L", "1"} else "rgb",
    }


def holds_texts(directory):
    """Whether `directory`'s class folders hold `.txt` files and no images."""
    if any(count_text_files(directory).values()):
        return not any(
            entry.name.lower().endswith(IMAGE_EXTENSIONS)
            for class_name in class_folders(directory)
            for entry in os.scandir(os.path.join(directory, class_name))
        )
    return False


def starter_config(config_path, data_dir=None):
    """The text of a commented starter config to be written at `config_path`."""
    text = header(os.path.basename(config_path))
    if data_dir is None:
        text += _DATA_EMBEDDED
        image_side = 28
        name = "fashion-mnist"
    else:
        relative = os.path.relpath(
            os.path.abspath(data_dir), os.path.dirname(os.path.abspath(config_path))
        )
        name = _run_name(os.path.basename(os.path.abspath(data_dir)) or "data")
        if holds_texts(data_dir):
            return text + text_starter_config(data_dir, relative, name)
        folder = describe_image_folder(data_dir)
        height, width = folder["image_size"]
        text += _DATA_FOLDER.format(
            path=relative,
            num_classes=len(folder["class_names"]),
            counts=", ".join(f"{n}: {c}" for n, c in folder["counts"].items()),
            height=height,
            width=width,
            color_mode=folder["color_mode"],
        )
        image_side = max(height, width)
    # MobileNetV2 takes 32 px and more; small images are scaled up to 48 px.
    teacher_side = max(48, min(image_side, MAX_IMAGE_SIDE))
    return (
        text
        + "\n"
        + _MODELS.format(teacher_side=teacher_side)
        + scratch_section(_EPOCHS, _BATCH_SIZE)
        + _DISTILL
        + distill_training_keys(_EPOCHS, _BATCH_SIZE, "images", every_n_epochs=5)
        + _OPTIONAL
        + closing_sections(name, "float32, float16, dynamic, int8")
    )


def _run_name(text):
    """`text` as a run name: letters, digits, `_`, `.`, `-`."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in text)
    return cleaned.strip("-._") or "run"
