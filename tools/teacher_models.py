"""The project's Fashion-MNIST teachers: architectures, loading, flip TTA.

`tools/train_teacher.py` trains them (docs/teacher_training.md); this
module builds and loads them, for the benchmarks and tools that use them:

* `build_teacher_resnet`: a small wide-ResNet. A 3x3 Conv-BN-ReLU stem, then
  three stages of basic residual blocks at 28x28, 14x14 and 7x7, global
  average pooling and `Dense(10)` **logits** (no softmax);
* `build_teacher_vgg`: stages of 3x3 Conv-BN-ReLU with max pooling, global
  average pooling, dropout and `Dense(10)` logits;
* both take `uint8` pixels of shape `(N, 28, 28, 1)`, scaled and
  standardized by a `Rescaling` layer (no preprocessing needed by the
  caller). With `flip_tta=True` the model's forward pass averages the logits
  of the image and of its horizontal flip (`HorizontalFlip`, registered as
  `kdkeras_tools>HorizontalFlip`); it has the same weights as the plain model, so
  the same `.weights.h5` file loads into both;
* `load_pretrained_teacher(path)` rebuilds a trained teacher from its
  `.weights.h5` file and the JSON beside it (which names the architecture).

    import sys; sys.path.insert(0, "tools")
    from teacher_models import load_pretrained_teacher
    teacher = load_pretrained_teacher()   # the shipped ResNet, logits
"""

import json
import os

import keras
import numpy as np

from kdkeras import augmentation

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NUM_CLASSES = 10
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training pixels, in [0, 1]
OUTPUT = os.path.join(
    REPO_ROOT,
    "saved_models",
    "pretrained",
    "fashion_mnist_resnet_teacher.weights.h5",
)


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="kdkeras_tools")
class HorizontalFlip(keras.layers.Layer):
    """Flips images left-right, always (in training and inference).

    Input: `(N, height, width, channels)`. Used by the flip-TTA teacher, which
    averages the logits of an image and of its mirror image.
    """

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=-2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return super().get_config()


def _conv_bn(x, filters, kernel_size, strides, name, relu=True):
    x = keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    if relu:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _basic_block(x, filters, strides, name):
    shortcut = x
    y = _conv_bn(x, filters, 3, strides, f"{name}_1")
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, strides, f"{name}_short", relu=False)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(y)


def build_teacher_resnet(
    width=1.0,
    blocks=(2, 2, 2),
    base_filters=(32, 64, 128),
    num_classes=NUM_CLASSES,
    flip_tta=False,
    name="fashion_mnist_resnet_teacher",
):
    """Builds the teacher: a small ResNet that maps uint8 images to logits.

    Args:
        width: Width factor; stage `i` has `round(width * base_filters[i])`
            filters.
        blocks: Basic residual blocks per stage (28x28, 14x14, 7x7).
        base_filters: Filters of the three stages at `width=1`.
        num_classes: Number of logits.
        flip_tta: If True, returns a model whose output is the mean of the
            logits of the input and of its horizontal flip (same weights as
            the plain model; the plain network is its layer `"network"`).
        name: Model name.

    Returns:
        A functional `keras.Model` from `(N, 28, 28, 1)` pixels in [0, 255]
        (any dtype) to `(N, num_classes)` float32 logits.
    """
    if len(blocks) != len(base_filters):
        raise ValueError("`blocks` and `base_filters` need the same length.")
    filters = [max(1, int(round(width * f))) for f in base_filters]
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = keras.layers.Rescaling(
        1.0 / (255.0 * STD), offset=-MEAN / STD, name="rescaling"
    )(inputs)
    x = _conv_bn(x, filters[0], 3, 1, "stem")
    for stage, (count, stage_filters) in enumerate(zip(blocks, filters, strict=True)):
        for block in range(count):
            strides = 2 if (stage > 0 and block == 0) else 1
            x = _basic_block(
                x, stage_filters, strides, f"stage{stage + 1}_block{block + 1}"
            )
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    network = keras.Model(inputs, logits, name=name if not flip_tta else "network")
    return _with_flip_tta(network, name) if flip_tta else network


def build_teacher_vgg(
    stage_filters=(32, 64, 128),
    convs_per_stage=2,
    dropout=0.3,
    num_classes=NUM_CLASSES,
    flip_tta=False,
    name="fashion_mnist_vgg_teacher",
):
    """Builds a VGG-style teacher: stages of 3x3 Conv-BN-ReLU, max pooling.

    Stage `i` has `convs_per_stage` 3x3 Conv-BN-ReLU layers with
    `stage_filters[i]` filters, followed by 2x2 max pooling (not after the
    last stage); then global average pooling, `Dropout(dropout)` and
    `Dense(num_classes)` logits. Cheaper per image than the ResNet at the
    same accuracy on this CPU: every convolution after the first stage works
    on pooled maps.

    Returns:
        A functional `keras.Model` from `(N, 28, 28, 1)` pixels in [0, 255]
        to `(N, num_classes)` float32 logits (flip TTA as in
        `build_teacher_resnet`).
    """
    inputs = keras.Input((28, 28, 1), name="pixels")
    x = keras.layers.Rescaling(
        1.0 / (255.0 * STD), offset=-MEAN / STD, name="rescaling"
    )(inputs)
    for stage, filters in enumerate(stage_filters, start=1):
        for conv in range(1, convs_per_stage + 1):
            x = _conv_bn(x, filters, 3, 1, f"stage{stage}_conv{conv}")
        if stage < len(stage_filters):
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    network = keras.Model(inputs, logits, name=name if not flip_tta else "network")
    return _with_flip_tta(network, name) if flip_tta else network


def _with_flip_tta(network, name):
    """A model whose logits are the mean of `network`'s on an image and on
    its horizontal flip (same weights as `network`)."""
    inputs = keras.Input((28, 28, 1), name="pixels")
    flipped = HorizontalFlip(name="horizontal_flip")(inputs)
    averaged = keras.layers.Average(name="flip_tta_mean")(
        [network(inputs), network(flipped)]
    )
    return keras.Model(inputs, averaged, name=name + "_flip_tta")


def build_from_architecture(arch, flip_tta=False):
    """Builds the teacher an `"architecture"` entry of the JSON describes."""
    if arch.get("builder", "").endswith("build_teacher_vgg"):
        return build_teacher_vgg(
            stage_filters=tuple(arch["stage_filters"]),
            convs_per_stage=arch["convs_per_stage"],
            dropout=arch["dropout"],
            num_classes=arch["num_classes"],
            flip_tta=flip_tta,
        )
    return build_teacher_resnet(
        width=arch["width"],
        blocks=tuple(arch["blocks"]),
        base_filters=tuple(arch["base_filters"]),
        num_classes=arch["num_classes"],
        flip_tta=flip_tta,
    )


def plain_network(model):
    """The plain network of a teacher built by `build_teacher_resnet`."""
    try:
        return model.get_layer("network")
    except ValueError:
        return model


def load_pretrained_teacher(path=OUTPUT, flip_tta=None):
    """Rebuilds the shipped teacher from `path` and the JSON file beside it.

    `flip_tta=None` uses what the JSON says the teacher ships as.
    """
    with open(path + ".json") as file:
        info = json.load(file)
    arch = info["architecture"]
    if flip_tta is None:
        flip_tta = arch.get("flip_tta", False)
    model = build_from_architecture(arch, flip_tta=flip_tta)
    plain_network(model).load_weights(path)
    return model


def logits_with_flips(model, x, batch_size=500):
    """The plain network's logits on uint8 `x` and on its horizontal flips."""
    network = plain_network(model)
    logits = network.predict(x, batch_size=batch_size, verbose=0)
    flipped = network.predict(x[:, :, ::-1, :], batch_size=batch_size, verbose=0)
    return logits, flipped


def shifted(x, dy, dx):
    """uint8 images `(N, H, W, C)` moved by `dy` rows and `dx` columns, the
    uncovered border filled with zeros: the shift of the library's replayable
    views (`kdkeras.augmentation.rendering.render_augmented`), with no mixing and no
    flip."""
    num_images = len(x)
    parameters = {
        "row_shift": np.full(num_images, dy, "int32"),
        "col_shift": np.full(num_images, dx, "int32"),
        "flip": np.zeros(num_images, "int32"),
        "mixup_weight": np.ones(num_images, "float32"),
        "box": np.zeros((num_images, 4), "int32"),  # empty: no cutmix
    }
    return np.asarray(augmentation.render_augmented(x, x, parameters)).astype(x.dtype)


def logits_with_shifts_and_flips(model, x, shift=1, batch_size=500, unshifted=None):
    """The mean of the plain network's logits over the `(2 * shift + 1)**2`
    shifts of uint8 `x` by up to `shift` pixels, each also flipped (shift and
    flip test-time augmentation: 18 views for `shift=1`).

    `unshifted`: the `logits_with_flips(model, x)` pair when the caller has
    it already, so the unshifted views are not predicted twice.
    """
    view_logits = []
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            if (dy, dx) == (0, 0) and unshifted is not None:
                view_logits.extend(unshifted)
            else:
                view_logits.extend(
                    logits_with_flips(model, shifted(x, dy, dx), batch_size)
                )
    return np.mean(view_logits, axis=0)


def evaluate_logits(model, x, y, batch_size=500):
    """Plain and horizontal-flip-TTA accuracy of a logits model on uint8 x."""
    logits, flipped = logits_with_flips(model, x, batch_size)
    plain = float(np.mean(np.argmax(logits, -1) == y))
    tta = float(np.mean(np.argmax(logits + flipped, -1) == y))
    return plain, tta
