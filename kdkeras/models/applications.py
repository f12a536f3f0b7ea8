"""Teachers and students on `keras.applications` backbones, outputting logits."""

import os
import warnings

import keras

from kdkeras.models.presets import get_preset
from kdkeras.validation import check_positive_int


class PretrainedWeightsUnavailableError(RuntimeError):
    """`weights="imagenet"` could not be downloaded (no internet)."""


def _check_image_shape(preset, input_shape):
    if input_shape is None:
        return (preset.default_size, preset.default_size, 3)
    input_shape = tuple(input_shape)
    if (
        len(input_shape) != 3
        or input_shape[-1] != 3
        or min(input_shape[:2]) < preset.min_size
    ):
        raise ValueError(
            f"`input_shape` of {preset.name} must be (height, width, 3) with "
            f"height and width ≥ {preset.min_size}. Received: "
            f"input_shape={input_shape}"
        )
    return input_shape


def _imagenet_backbone(preset, input_shape, **kwargs):
    try:
        return preset.build_backbone(input_shape, weights="imagenet", **kwargs)
    except Exception as error:  # Keras raises a bare Exception on a failed fetch.
        if "URL fetch failure" not in str(error) and "fetch" not in str(error):
            raise
        raise PretrainedWeightsUnavailableError(
            f"Could not download the ImageNet weights of {preset.name} "
            f"({error}). Without internet, download the `no_top` weights file "
            "elsewhere (keras.applications prints its URL) and pass its path: "
            "`weights='/path/to/..._notop.h5'`; or pass the `.weights.h5` file "
            "of a teacher saved with `model.save_weights`; or `weights=None` to "
            "train from scratch."
        ) from None


def build_backbone(preset_name, input_shape=None, weights=None, width=None):
    """The `keras.applications` backbone of a preset, without its top.

    Args:
        preset_name: A name from `kdkeras.models.BACKBONE_PRESETS`.
        input_shape: `(height, width, 3)`; defaults to the ImageNet size.
        weights: `None`, `"imagenet"`, or the path of backbone weights (`.h5`).
        width: Width multiplier (`alpha`) where the family has one.
    """
    preset = get_preset(preset_name)
    input_shape = _check_image_shape(preset, input_shape)
    kwargs = {}
    if width is not None:
        if not preset.width_multiplier:
            raise ValueError(
                f"{preset.name} has no width multiplier. Families that have "
                "one: mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large. "
                f"Received: width={width}"
            )
        kwargs["alpha"] = width
    if weights == "imagenet":
        return _imagenet_backbone(preset, input_shape, **kwargs)
    if weights is not None and not os.path.exists(weights):
        raise FileNotFoundError(
            f"`weights` must be None, 'imagenet' or an existing file. "
            f"Received: weights={weights!r}"
        )
    return preset.build_backbone(input_shape, weights=weights, **kwargs)


def _load_weights_file(model, backbone, weights):
    """Loads a `.weights.h5` of the whole classifier, else of the backbone."""
    try:
        # A backbone file fails here, after Keras warns about every layer it
        # skipped: the warnings would only confuse, the error is handled.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.load_weights(weights)
    except ValueError as whole_model_error:
        try:
            backbone.load_weights(weights)
        except ValueError:
            raise ValueError(
                f"The weights file {weights!r} fits neither this classifier nor "
                f"its backbone ({whole_model_error})."
            ) from None


def _classifier(backbone, num_classes, dropout, name):
    """Backbone (renamed "backbone"), global pooling, dropout, logits."""
    backbone.name = "backbone"
    inputs = keras.Input(backbone.input_shape[1:], name="images")
    features = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
    if dropout:
        features = keras.layers.Dropout(dropout, name="dropout")(features)
    logits = keras.layers.Dense(num_classes, name="logits")(features)
    return keras.Model(inputs, logits, name=name)


def build_teacher(
    preset_name,
    num_classes,
    input_shape=None,
    weights="imagenet",
    dropout=0.2,
    width=None,
    name=None,
):
    """A transfer-learning classifier: backbone, global pooling, dropout, logits.

    Example:

    ```python
    teacher = kdkeras.models.build_teacher("resnet50", num_classes=10,
                                           input_shape=(96, 96, 3))
    ```

    Args:
        preset_name: A name from `kdkeras.models.BACKBONE_PRESETS`.
        num_classes: Number of classes of the new head.
        input_shape: `(height, width, 3)`; defaults to the ImageNet size.
        weights: `"imagenet"` (downloaded by Keras), `None` (random), the path
            of a `.weights.h5` saved from such a classifier or from its
            backbone, or the path of a legacy backbone `.h5` file (as
            `keras.applications` downloads them).
        dropout: Dropout rate before the head.
        width: Width multiplier (`alpha`) of families that have one
            (MobileNets); `None` keeps the family's default.
        name: The model's name (defaults to `"<preset>_teacher"`).

    Returns:
        A functional `keras.Model` whose backbone is the layer named
        `"backbone"` and whose output is logits `(batch, num_classes)`.
    """
    check_positive_int(num_classes, "num_classes")
    whole_model_weights = isinstance(weights, str) and weights.endswith(".weights.h5")
    backbone = build_backbone(
        preset_name,
        input_shape,
        weights=None if whole_model_weights else weights,
        width=width,
    )
    model = _classifier(
        backbone, num_classes, dropout, name or f"{preset_name}_teacher"
    )
    if whole_model_weights:
        if not os.path.exists(weights):
            raise FileNotFoundError(
                f"`weights` must be None, 'imagenet' or an existing file. "
                f"Received: weights={weights!r}"
            )
        _load_weights_file(model, backbone, weights)
    return model


def build_student(
    architecture,
    num_classes,
    input_shape=None,
    width=None,
    weights=None,
    dropout=0.0,
    name=None,
    **kwargs,
):
    """A small student: a width-scaled `keras.applications` net, a CNN or an MLP.

    Example:

    ```python
    student = build_student("mobilenet_v3_small", 10, (96, 96, 3), width=0.5)
    student = build_student("cnn", 10, (28, 28, 1), filters=(16, 32))
    ```

    Args:
        architecture: `"cnn"` (`kdkeras.models.build_cnn`), `"mlp"`
            (`build_mlp`), or a preset with a width multiplier
            (`"mobilenet_v2"`, `"mobilenet_v3_small"`, `"mobilenet_v3_large"`).
        num_classes: Number of classes.
        input_shape: Shape of one input.
        width: Width multiplier (`alpha`) of a preset; e.g. 0.35 to 1.0.
        weights: Weights of a preset backbone (see `build_teacher`); ImageNet
            weights exist only for some widths and sizes.
        dropout: Dropout rate before the head.
        name: The model's name.
        **kwargs: Passed to `build_cnn` or `build_mlp`.

    Returns:
        A `keras.Model` that outputs logits.
    """
    from kdkeras.models import cnn

    small_builders = {"cnn": cnn.build_cnn, "mlp": cnn.build_mlp}
    if architecture in small_builders:
        if input_shape is not None:
            kwargs["input_shape"] = input_shape
        return small_builders[architecture](
            num_classes=num_classes,
            dropout=dropout,
            name=name or f"{architecture}_student",
            **kwargs,
        )
    if kwargs:
        raise TypeError(
            f"Unexpected arguments for the {architecture!r} student: {sorted(kwargs)}"
        )
    preset = get_preset(architecture)
    input_shape = _check_image_shape(preset, input_shape)
    backbone = build_backbone(architecture, input_shape, weights, width=width)
    return _classifier(
        backbone, num_classes, dropout, name or f"{architecture}_student"
    )
