"""Feature distillation: match the student's intermediate layers to the teacher's.

Give the `Distiller` one object per pair of layers, named by the user:

```python
distiller = kdkeras.Distiller(
    teacher,
    student,
    features=[
        kdkeras.distillation.Hint("teacher_block3", "student_conv2", weight=1.0),
        kdkeras.distillation.AttentionTransfer("teacher_block2", "student_conv1"),
    ],
)
```

Each adds `weight · loss(teacher_features, student_features)` to the training
loss (logged together as `feature_loss`). A `Hint` learns a projection of the
student's features (a 1×1 convolution, or a Dense layer for flat features)
that trains with the student and lives in the Distiller: `distiller.student`
stays the plain student, and it is what `save_for_device` exports. Teacher and
student must be functional or Sequential models, so that their named layers'
outputs can be read.
"""

import keras
from keras import ops

from kdkeras.losses import feature_losses


class FeatureDistillation(keras.layers.Layer):
    """Base class: a loss between one teacher layer and one student layer.

    Args:
        teacher_layer: The name of the teacher's layer whose output is matched.
        student_layer: The name of the student's layer that learns to match.
        weight: The weight of the loss, a number ≥ 0.
        name: The layer's name.
    """

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


@keras.saving.register_keras_serializable(package="kdkeras")
class Hint(FeatureDistillation):
    """FitNets hint: `weight · mean((r(s) − t)²)` with a learned projection `r`.

    `r` is a 1×1 convolution to the teacher's channels for feature maps
    (the student's map is first resized, bilinear, to the teacher's height
    and width if they differ), or a Dense layer for flat features (Romero et
    al., 2015, arXiv:1412.6550). See `kdkeras.losses.feature_losses.hint_loss`.

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


@keras.saving.register_keras_serializable(package="kdkeras")
class AttentionTransfer(FeatureDistillation):
    """Attention transfer: `weight · mean((Q_s − Q_t)²)` of attention maps.

    No parameters: the channel counts may differ; the student's map is
    resized (bilinear) to the teacher's height and width if they differ
    (Zagoruyko & Komodakis, 2017, arXiv:1612.03928). See
    `kdkeras.losses.feature_losses.attention_transfer_loss`.

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


def feature_extractor(model, layer_names, argument_name):
    """A model that returns `[output, *outputs of the named layers]`.

    It shares `model`'s layers and weights.
    """
    if not isinstance(getattr(model, "inputs", None), list) or not model.outputs:
        raise ValueError(
            f"Feature distillation reads named layers of the {argument_name}, so "
            f"it must be a functional or Sequential model. Received: "
            f"{type(model).__name__} {model.name!r}"
        )
    outputs = []
    for name in layer_names:
        try:
            outputs.append(model.get_layer(name).output)
        except ValueError:
            names = [layer.name for layer in model.layers]
            raise ValueError(
                f"The {argument_name} {model.name!r} has no layer named {name!r}. "
                f"Its layers: {names}"
            ) from None
    return keras.Model(model.inputs, [model.outputs[0], *outputs])


class FeatureTaps:
    """The teacher and student, returning their logits and the named features.

    Plain Python on purpose: its two models share the teacher's and the
    student's layers, which the `Distiller` already tracks and saves.

    Args:
        teacher: The (functional) teacher.
        student: The (functional) student.
        features: The `FeatureDistillation` layers; they are built here.
    """

    def __init__(self, teacher, student, features):
        self.features = list(features)
        self.teacher = feature_extractor(
            teacher, [f.teacher_layer for f in self.features], "teacher"
        )
        self.student = feature_extractor(
            student, [f.student_layer for f in self.features], "student"
        )
        for feature, teacher_output, student_output in zip(
            self.features,
            self.teacher.outputs[1:],
            self.student.outputs[1:],
            strict=True,
        ):
            if not feature.built:
                feature.build((teacher_output.shape, student_output.shape))

    def __call__(self, student_inputs, teacher_inputs):
        """Both models in training mode: logits and features, as a dict.

        Keys: `student_logits`, `teacher_logits` (the teacher's raw outputs),
        `student_features` and `teacher_features` (lists, one per pair; the
        teacher's without gradient).
        """
        student_logits, *student_features = self.student(student_inputs, training=True)
        teacher_outputs, *teacher_features = self.teacher(
            teacher_inputs, training=False
        )
        return {
            "student_logits": student_logits,
            "teacher_logits": teacher_outputs,
            "student_features": student_features,
            "teacher_features": [ops.stop_gradient(f) for f in teacher_features],
        }

    def loss(self, outputs, sample_weight=None):
        """`Σ weight_i · mean_batch(loss_i)` of `__call__`'s outputs, reduced
        (with sample weights, scaled under distribution) as Keras losses are."""
        from kdkeras.losses import FunctionLoss

        total = 0.0
        for feature, teacher_map, student_map in zip(
            self.features,
            outputs["teacher_features"],
            outputs["student_features"],
            strict=True,
        ):
            reduce = FunctionLoss(feature.loss, name=feature.name)
            total = total + feature.weight * reduce(
                ops.stop_gradient(teacher_map), student_map, sample_weight
            )
        return total


def check_features(features):
    """`features` as a list of `FeatureDistillation` layers (or `None`)."""
    if features is None:
        return None
    features = list(features) if isinstance(features, (list, tuple)) else [features]
    if not features or not all(isinstance(f, FeatureDistillation) for f in features):
        raise TypeError(
            "`features` must be a list of `kdkeras.distillation.Hint` or "
            "`AttentionTransfer` (FeatureDistillation) objects. "
            f"Received: features={features!r}"
        )
    return features
