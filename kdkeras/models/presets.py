"""`keras.applications` backbones as data: one row per family member.

A row says how to build the backbone, how to preprocess its input, which input
sizes it takes and whether it preprocesses inside the model. Builders in
`kdkeras.models.applications` read this table; nothing branches on names.
"""

import dataclasses

import keras


@dataclasses.dataclass(frozen=True)
class BackbonePreset:
    """How to build and feed one `keras.applications` backbone.

    Attributes:
        name: The preset name, e.g. `"mobilenet_v2"`.
        constructor: The `keras.applications` function, e.g. `"MobileNetV2"`.
        module: The `keras.applications` module holding `preprocess_input`.
        default_size: The ImageNet input size (pixels per side).
        min_size: The smallest input size the constructor accepts.
        includes_preprocessing: Whether the model rescales its raw 0–255
            input itself (then `preprocess_input` is the identity).
        width_multiplier: Whether the constructor takes `alpha` (width).
    """

    name: str
    constructor: str
    module: str
    default_size: int
    min_size: int = 32
    includes_preprocessing: bool = False
    width_multiplier: bool = False

    def build_backbone(self, input_shape, weights=None, **kwargs):
        """The backbone without its top, taking `input_shape` images."""
        constructor = getattr(keras.applications, self.constructor)
        return constructor(
            include_top=False, weights=weights, input_shape=input_shape, **kwargs
        )

    @property
    def preprocess_input(self):
        """The family's `preprocess_input` (0–255 RGB in, model input out)."""
        return getattr(keras.applications, self.module).preprocess_input


BACKBONE_PRESETS = {
    preset.name: preset
    for preset in (
        BackbonePreset("resnet50", "ResNet50", "resnet", 224),
        BackbonePreset("resnet101", "ResNet101", "resnet", 224),
        BackbonePreset("resnet50_v2", "ResNet50V2", "resnet_v2", 224),
        BackbonePreset(
            "mobilenet_v2", "MobileNetV2", "mobilenet_v2", 224, width_multiplier=True
        ),
        BackbonePreset(
            "mobilenet_v3_small",
            "MobileNetV3Small",
            "mobilenet_v3",
            224,
            includes_preprocessing=True,
            width_multiplier=True,
        ),
        BackbonePreset(
            "mobilenet_v3_large",
            "MobileNetV3Large",
            "mobilenet_v3",
            224,
            includes_preprocessing=True,
            width_multiplier=True,
        ),
        BackbonePreset(
            "efficientnet_b0",
            "EfficientNetB0",
            "efficientnet",
            224,
            includes_preprocessing=True,
        ),
        BackbonePreset(
            "efficientnet_b1",
            "EfficientNetB1",
            "efficientnet",
            240,
            includes_preprocessing=True,
        ),
        BackbonePreset(
            "efficientnet_b2",
            "EfficientNetB2",
            "efficientnet",
            260,
            includes_preprocessing=True,
        ),
        BackbonePreset(
            "efficientnet_b3",
            "EfficientNetB3",
            "efficientnet",
            300,
            includes_preprocessing=True,
        ),
        BackbonePreset(
            "efficientnet_v2_b0",
            "EfficientNetV2B0",
            "efficientnet_v2",
            224,
            includes_preprocessing=True,
        ),
        BackbonePreset("densenet121", "DenseNet121", "densenet", 224),
        BackbonePreset(
            "convnext_tiny",
            "ConvNeXtTiny",
            "convnext",
            224,
            includes_preprocessing=True,
        ),
        BackbonePreset("xception", "Xception", "xception", 299, min_size=71),
    )
}


def get_preset(name):
    """Returns the `BackbonePreset` called `name`."""
    if name not in BACKBONE_PRESETS:
        raise ValueError(
            f"Unknown backbone preset. Expected one of {sorted(BACKBONE_PRESETS)}. "
            f"Received: name={name!r}"
        )
    return BACKBONE_PRESETS[name]
