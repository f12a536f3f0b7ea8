"""Feature distillation methods: a loss between one teacher layer and one
student layer, as Keras layers (a `Hint` owns a learned projection).

They are registered beside the logit losses with kind `"features"`
(`kdkeras.losses.get("hint", teacher_layer=..., student_layer=...)`) and go
to `kdkeras.Distiller(features=[...])`; their loss functions are those of
`kdkeras.losses.feature_losses`. How the Distiller reads the named layers is
`kdkeras.distillation.features`.
"""

import keras
from keras import ops

from kdkeras.losses import feature_losses
from kdkeras.losses.registry import register_distillation_loss


class FeatureDistillation(keras.layers.Layer):
    """Base class: a loss between one teacher layer and one student layer.

    Its kind in the registry (`kdkeras.losses.registered_kinds()`) is
    `"features"`: give it to `Distiller(features=[...])`, not to `compile`.

    Args:
        teacher_layer: The name of the teacher's layer whose output is matched.
        student_layer: The name of the student's layer that learns to match.
        weight: The weight of the loss, a number ≥ 0.
        name: The layer's name.
    """

    kind = "features"

    def __init__(self, teacher_layer, student_layer, weight=1.0, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        for argument, value in (
            ("teacher_layer", teacher_layer),
            ("student_layer", student_layer),
        ):
            if not isinstance(value, str) or not value:
                raise TypeError(
                    f"`{argument}` must be a layer name (a string). "
                    f"Received: {argument}={value!r}"
                )
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise TypeError(f"`weight` must be a number. Received: weight={weight!r}")
        if not weight >= 0:
            raise ValueError(f"`weight` must be ≥ 0. Received: weight={weight}")
        self.teacher_layer = teacher_layer
        self.student_layer = student_layer
        self.weight = float(weight)

    def build(self, shapes):
        """`shapes` is `(teacher_shape, student_shape)` of the two feature maps."""
        self.built = True

    def loss(self, teacher_features, student_features):
        """One loss value per example, before `weight`."""
        raise NotImplementedError

    def get_config(self):
        return {
            **super().get_config(),
            "teacher_layer": self.teacher_layer,
            "student_layer": self.student_layer,
            "weight": self.weight,
        }


def _resize_like(features, reference_shape):
    """`features` resized (bilinear) to the spatial size of `reference_shape`."""
    if len(features.shape) != 4 or tuple(features.shape[1:3]) == tuple(
        reference_shape[1:3]
    ):
        return features
    return ops.image.resize(features, tuple(reference_shape[1:3]))


@register_distillation_loss("hint")
class Hint(FeatureDistillation):
    """FitNets hint: `weight · mean((r(s) − t)²)` with a learned projection `r`.

    `r` is a 1×1 convolution to the teacher's channels for feature maps
    (the student's map is first resized, bilinear, to the teacher's height
    and width if they differ), or a Dense layer for flat features (Romero et
    al., 2015, arXiv:1412.6550). See `kdkeras.losses.feature_losses.hint_loss`;
    registered as `"hint"`.

    Args:
        teacher_layer: The name of the teacher's layer (the "hint").
        student_layer: The name of the student's layer (the "guided" one).
        weight: The weight of the loss.
        name: The layer's name.
    """

    def build(self, shapes):
        teacher_shape, student_shape = shapes
        if len(teacher_shape) != len(student_shape) or len(teacher_shape) not in (
            2,
            4,
        ):
            raise ValueError(
                "`Hint` matches two feature maps (batch, height, width, channels) "
                "or two flat features (batch, units). Received: teacher layer "
                f"{self.teacher_layer!r} of shape {teacher_shape}, student layer "
                f"{self.student_layer!r} of shape {student_shape}"
            )
        if len(teacher_shape) == 4:
            self.projection = keras.layers.Conv2D(
                teacher_shape[-1], 1, use_bias=False, name="projection"
            )
            self.projection.build((None, *teacher_shape[1:3], student_shape[-1]))
        else:
            self.projection = keras.layers.Dense(teacher_shape[-1], name="projection")
            self.projection.build(student_shape)
        self._teacher_shape = tuple(teacher_shape)
        self.built = True

    def loss(self, teacher_features, student_features):
        student_features = _resize_like(student_features, self._teacher_shape)
        return feature_losses.hint_loss(
            teacher_features, self.projection(student_features)
        )


@register_distillation_loss("attention_transfer")
class AttentionTransfer(FeatureDistillation):
    """Attention transfer: `weight · mean((Q_s − Q_t)²)` of attention maps.

    No parameters: the channel counts may differ; the student's map is
    resized (bilinear) to the teacher's height and width if they differ
    (Zagoruyko & Komodakis, 2017, arXiv:1612.03928). See
    `kdkeras.losses.feature_losses.attention_transfer_loss`; registered as
    `"attention_transfer"`.

    Args:
        teacher_layer: The name of the teacher's layer.
        student_layer: The name of the student's layer.
        weight: The weight of the loss; the paper's β/2 with β = 1000 is 500.
        p: The power of the activations in the attention map.
        name: The layer's name.
    """

    def __init__(
        self, teacher_layer, student_layer, weight=500.0, p=2, name=None, **kwargs
    ):
        super().__init__(
            teacher_layer, student_layer, weight=weight, name=name, **kwargs
        )
        self.p = p

    def build(self, shapes):
        teacher_shape, student_shape = shapes
        if len(teacher_shape) != 4 or len(student_shape) != 4:
            raise ValueError(
                "`AttentionTransfer` matches feature maps (batch, height, width, "
                f"channels). Received: teacher layer {self.teacher_layer!r} of "
                f"shape {teacher_shape}, student layer {self.student_layer!r} of "
                f"shape {student_shape}"
            )
        self._teacher_shape = tuple(teacher_shape)
        self.built = True

    def loss(self, teacher_features, student_features):
        student_features = _resize_like(student_features, self._teacher_shape)
        return feature_losses.attention_transfer_loss(
            teacher_features, student_features, p=self.p
        )

    def get_config(self):
        return {**super().get_config(), "p": self.p}
