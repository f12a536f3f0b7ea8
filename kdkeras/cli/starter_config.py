"""The commented starter config `kdkeras init` writes.

Without data it runs the demo (the embedded Fashion-MNIST subset); with an
image folder it names the folder, its classes, the image size most of its
images have (longest side at most `MAX_IMAGE_SIDE`) and their colour mode;
a folder of `.txt` files per class (and no images) gets a text config
(`kdkeras.cli.text_starter_config`).
"""

import collections
import contextlib
import io
import os
import re
import textwrap
import warnings

from kdkeras.cli.config_sections import (
    closing_sections,
    distill_training_keys,
    header,
    scratch_section,
)
from kdkeras.cli.text_starter_config import count_text_files, text_starter_config
from kdkeras.cli.yaml_scalars import yaml_path
from kdkeras.config.errors import ConfigError
from kdkeras.pipeline.data_checks import (
    IMAGE_EXTENSIONS,
    LISTED_FILES,
    check_image_folder,
    class_count_problems,
    files,
    imbalance_warning,
)
from kdkeras.pipeline.folders import class_folders

MAX_IMAGE_SIDE = 224
"""The largest image side `init` proposes: the size ImageNet backbones take."""

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
  # {num_classes} classes found ({counts}).{notes}
  image_size: [{height}, {width}]   # every image is resized to it
  color_mode: {color_mode}
  validation_split: 0.1   # held out for validation (seeded)
  test_split: 0.2         # held out for the report; or give test_path: FOLDER
  on_unreadable: error    # images that do not decode: named (or skip: left out)
"""

_STARTER_SPLITS = ("training", "validation", "test")
"""The splits of the config `init` writes, each needing an image per class."""

_TEACHER = """\
teacher:
  # A keras.applications preset, or path: a saved .keras teacher taking these
  # images, or paths: [a.keras, b.keras] (several, their logits averaged;
  # weighted by ensemble_weights: [2, 1]).
  preset: mobilenet_v2
  width: 0.35
  image_size: [{teacher_side}, {teacher_side}]
{recipe}  batch_size: 64

"""

_PRETRAINED_RECIPE = """\
  weights: imagenet      # downloaded by Keras (~/.keras/models); or none, or a file
  # Pretrained weights: two stages. The new head learns on the frozen
  # backbone, then the top 20 layers are unfrozen at a low learning rate, so
  # the pretrained features are kept. With weights: none use instead
  # head_epochs: 0, fine_tune_epochs: 12, fine_tune_learning_rate: 0.001.
  head_epochs: 2
  fine_tune_epochs: 2
  fine_tune_learning_rate: 0.0001
  num_unfrozen_layers: 20
"""

_FROM_SCRATCH_RECIPE = """\
{why}
  weights: none
  # From random weights: no frozen-backbone phase (random features teach a
  # head nothing), the whole network at a high learning rate for longer.
  # On 4 x 400 photos of clothes (benchmarks/run_judgement.py) this teacher
  # reached 0.91-0.97, below the small CNN trained from the labels (0.98) at
  # two seeds of three, where the run stops and says so; the two-stage one
  # from a pretrained backbone 1.00.
  head_epochs: 0
  fine_tune_epochs: 12
  fine_tune_learning_rate: 0.001
"""

_NO_PRETRAINED_WEIGHTS = (
    "The ImageNet weights could not be downloaded here ({reason}): the backbone "
    "learns from random weights. With internet, or the downloaded *_no_top.h5 "
    "file as weights:, use the two-stage recipe for pretrained weights instead: "
    "head_epochs: 2, fine_tune_epochs: 2, fine_tune_learning_rate: 0.0001, "
    "num_unfrozen_layers: 20."
)

_STUDENT = """\
student:
  architecture: cnn      # cnn, mlp, mobilenet_v2, mobilenet_v3_small, …, or auto
  filters: [8, 16]
  pooling: flatten
  # architecture: auto   # the largest candidate whose int8 file fits the budget,
  # budget:              # measured before training (the report lists them)
  #   size_kb: 100
  #   latency_ms: 0.5

"""


def starter_teacher_side(image_side):
    """The side of the starter teacher's square view of images whose longest
    side is `image_side`: MobileNetV2 takes 32 px and more, so small images
    are scaled up to 48 px; large ones down to `MAX_IMAGE_SIDE`."""
    return max(48, min(image_side, MAX_IMAGE_SIDE))


def imagenet_weights_reachable(teacher_side, preset="mobilenet_v2", width=0.35):
    """`(True, None)` if Keras has, or can download, the ImageNet weights of
    the starter teacher (they are then in its cache); else `(False, reason)`."""
    from kdkeras.models import PretrainedWeightsUnavailableError, build_backbone

    try:
        # Keras warns of the size it picks the file for and prints the URL.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            build_backbone(
                preset, (teacher_side, teacher_side, 3), weights="imagenet", width=width
            )
    except PretrainedWeightsUnavailableError as error:
        cause = re.search(r" -- (.+?)\)\. ", str(error))
        return False, cause.group(1) if cause else "no internet?"
    return True, None


def teacher_section(teacher_side, pretrained, reason=None):
    """`teacher:` and `student:` of a starter config: the two-stage recipe for
    pretrained weights, or the from-scratch one when they cannot be had."""
    recipe = (
        _PRETRAINED_RECIPE
        if pretrained
        else _FROM_SCRATCH_RECIPE.format(
            why=textwrap.fill(
                _NO_PRETRAINED_WEIGHTS.format(reason=reason or "no internet?"),
                width=78,
                initial_indent="  # ",
                subsequent_indent="  # ",
                break_on_hyphens=False,
            )
        )
    )
    return _TEACHER.format(teacher_side=teacher_side, recipe=recipe) + _STUDENT


_DISTILL = """\
distill:
  loss: kd               # any kdkeras.losses name: kd, dkd, kd_standardized, …
  # loss: {name: dkd, target_weight: 1.0, non_target_weight: 8.0}  # with arguments
  # auto: chosen on the validation split by short fits of the student on the
  # teacher's cached logits, starting from the teacher's soft targets (usually
  # T 1-2; alpha 0.1 for a pretrained teacher); the candidates, their scores
  # and the choice go to the log and the report. The sweep and the full fit
  # cost at most auto_budget x epochs. Not with augmentation or features: use
  # numbers, or schedules (linear, cosine, constant):
  alpha: auto            # weight of the label loss
  temperature: auto
  auto_budget: 1.5
  # alpha: {schedule: linear, start: 1.0, end: 0.1, epochs: 5}
  # temperature: {schedule: cosine, start: 8, end: 2}
  mode: online           # or offline (teacher logits cached once)
  # features:            # a ready functional teacher.path (offline: data in memory)
  #   - {kind: hint, teacher_layer: block2_relu, student_layer: block1_relu}
  allow_weak_teacher: false  # true: go on from a teacher at chance or below scratch
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

    Every image is decoded as the run will decode it
    (`kdkeras.pipeline.data_checks.check_image_folder`): those that do not
    decode are not counted, and named in the notes.

    Returns:
        A dict: `class_names`, `counts` (images per class that decode),
        `image_size` (`(height, width)` of most sampled images),
        `color_mode` (`"grayscale"` if every sampled image is, else
        `"rgb"`), `unreadable` (`(path, reason)` of the images that do not
        decode) and `notes` (sentences for the config and the terminal: the
        unreadable images, files without an image extension, classes with
        fewer images than the splits need, unbalanced classes).

    Raises:
        ValueError: If the folder has fewer than two class folders, or a
            class folder without an image that decodes.
    """
    from PIL import Image

    directory = os.fspath(directory)
    class_names = data_class_folders(directory)
    if len(class_names) < 2:
        raise ValueError(
            f"`--data` must be a folder with one sub-folder of images (or of "
            f".txt files) per class (at least 2). Received: {directory} with "
            f"sub-folders {class_names}"
        )
    check = check_image_folder(directory, key="--data")
    counts = check.counts
    empty = [name for name in class_names if not counts[name]]
    if empty:
        raise ValueError(
            "`--data` must have at least one image that decodes in every class "
            f"folder; these have none: {', '.join(map(repr, empty))} (add "
            f"images or delete them). Received: {directory} with {counts}"
            + (f"; {_unreadable_list(check)}" if check.unreadable else "")
        )
    sampled = []
    for name in class_names:
        sampled += check.readable[name][: max(1, max_images // len(class_names))]
    sizes, modes = collections.Counter(), set()
    for path in sampled:
        with Image.open(path) as image:
            sizes[(image.height, image.width)] += 1
            modes.add(image.mode)
    height, width = sizes.most_common(1)[0][0]
    scale = min(1.0, MAX_IMAGE_SIDE / max(height, width))
    notes = _unreadable_notes(check)
    notes += class_count_problems(counts, _STARTER_SPLITS)
    warning = imbalance_warning(counts)
    notes += [] if warning is None else [warning]
    return {
        "class_names": class_names,
        "counts": counts,
        "image_size": (max(1, round(height * scale)), max(1, round(width * scale))),
        "color_mode": "grayscale" if modes <= {"L", "1"} else "rgb",
        "unreadable": check.unreadable,
        "notes": notes,
    }


def _unreadable_list(check):
    """The images of `check` that do not decode, the first few named."""
    listed = ", ".join(
        f"{os.path.relpath(path, check.directory)} ({reason})"
        for path, reason in check.unreadable[:LISTED_FILES]
    )
    more = len(check.unreadable) - LISTED_FILES
    return (
        f"{len(check.unreadable)} of {check.num_image_files} image files do not "
        f"decode and are not counted: {listed}"
        + (f", and {more} more" if more > 0 else "")
    )


def _unreadable_notes(check):
    """Sentences on the files of `check` that a run leaves out or refuses."""
    notes = []
    if check.unreadable:
        notes.append(
            _unreadable_list(check) + ". kdkeras run refuses them until they are "
            "fixed or deleted, or data.on_unreadable is skip"
        )
    if check.non_image_files:
        notes.append(
            f"{files(check.non_image_files)} without an image extension "
            f"({', '.join(IMAGE_EXTENSIONS)}) left out, as Keras leaves them"
        )
    return notes


def _comment_lines(notes):
    """`notes` as indented comment lines of the data section."""
    return "".join(
        "\n"
        + textwrap.fill(note, 78, initial_indent="  # ", subsequent_indent="  #   ")
        for note in notes
    )


def data_class_folders(directory):
    """The class folders of `--data`, as `class_folders` lists them.

    Raises:
        ValueError: One line per folder whose name cannot be a class name
            (`kdkeras.pipeline.folders.folder_name_problems`).
    """
    try:
        return class_folders(directory, "--data")
    except ConfigError as error:
        raise ValueError("\n".join(error.problems)) from None


def holds_texts(directory):
    """Whether `directory`'s class folders hold `.txt` files and no images.

    Raises:
        ValueError: If a class folder's name cannot be a class name.
    """
    data_class_folders(directory)
    if any(count_text_files(directory).values()):
        return not any(
            entry.name.lower().endswith(IMAGE_EXTENSIONS)
            for class_name in class_folders(directory)
            for entry in os.scandir(os.path.join(directory, class_name))
        )
    return False


def starter_config(
    config_path, data_dir=None, image_folder=None, pretrained=None, reason=None
):
    """The text of a commented starter config to be written at `config_path`.

    Args:
        config_path: Where the config will be written (paths are relative to
            its folder).
        data_dir: A folder of class sub-folders of images or texts; `None`
            for the demo.
        image_folder: `describe_image_folder(data_dir)`, if already made.
        pretrained: Whether the teacher's ImageNet weights can be had: the
            two-stage recipe if so, the from-scratch one if not; `None`
            finds out (`imagenet_weights_reachable`).
        reason: Why they cannot be had, for the config's comment.
    """
    text = header(os.path.basename(config_path))
    if data_dir is None:
        text += _DATA_EMBEDDED
        image_side = 28
        name = "fashion-mnist"
    else:
        relative = yaml_path(
            os.path.relpath(
                os.path.abspath(data_dir),
                os.path.dirname(os.path.abspath(config_path)),
            )
        )
        folder_name = os.path.basename(os.path.abspath(data_dir)) or "data"
        name = yaml_path(_run_name(folder_name))  # "yes" is no YAML string
        if holds_texts(data_dir):
            return text + text_starter_config(data_dir, relative, name)
        folder = image_folder or describe_image_folder(data_dir)
        height, width = folder["image_size"]
        text += _DATA_FOLDER.format(
            path=relative,
            num_classes=len(folder["class_names"]),
            counts=", ".join(f"{n}: {c}" for n, c in folder["counts"].items()),
            height=height,
            width=width,
            color_mode=folder["color_mode"],
            notes=_comment_lines(folder["notes"]),
        )
        image_side = max(height, width)
    teacher_side = starter_teacher_side(image_side)
    if pretrained is None:
        pretrained, reason = imagenet_weights_reachable(teacher_side)
    return (
        text
        + "\n"
        + teacher_section(teacher_side, pretrained, reason)
        + scratch_section(_EPOCHS, _BATCH_SIZE)
        + _DISTILL
        + distill_training_keys(_EPOCHS, _BATCH_SIZE, "images", every_n_epochs=5)
        + _OPTIONAL
        + closing_sections(name, "float32, float16, dynamic_range, int8")
    )


def _run_name(text):
    """`text` as a run name: letters, digits, `_`, `.`, `-`."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in text)
    return cleaned.strip("-._") or "run"
