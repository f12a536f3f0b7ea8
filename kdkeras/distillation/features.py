"""Feature distillation: match the student's intermediate layers to the teacher's.

Give the `Distiller` one feature method per pair of layers, named by the
user: the registered methods of kind `"features"` (`kdkeras.losses`, beside
the logit losses), as objects or their configs, resolved by
`kdkeras.losses.get`:

```python
distiller = kdkeras.Distiller(
    teacher,
    student,
    features=[
        kdkeras.distillation.Hint("teacher_block3", "student_conv2", weight=1.0),
        kdkeras.distillation.AttentionTransfer("teacher_block2", "student_conv1"),
    ],
)
hint = kdkeras.losses.get("hint", teacher_layer="t_block3", student_layer="s_conv2")
```

Each adds `weight · loss(teacher_features, student_features)` to the training
loss (logged together as `feature_loss`). A `Hint` learns a projection of the
student's features (a 1×1 convolution, or a Dense layer for flat features)
that trains with the student and lives in the Distiller: `distiller.student`
stays the plain student, and it is what `save_for_device` exports. Teacher and
student must be functional or Sequential models, so that their named layers'
outputs can be read.
"""

import functools

import keras
from keras import ops

from kdkeras import losses
from kdkeras.distillation import example_index as indices
from kdkeras.losses.feature_methods import (  # noqa: F401 (exported from here too)
    AttentionTransfer,
    FeatureDistillation,
    Hint,
)


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

    def loss(self, outputs, sample_weight=None, example_index=None):
        """`Σ weight_i · mean_batch(loss_i)` of `__call__`'s outputs, reduced
        (with sample weights, scaled under distribution) as Keras losses are.

        `example_index` goes to the methods that need it (CRD)."""
        total = 0.0
        for feature, teacher_map, student_map in zip(
            self.features,
            outputs["teacher_features"],
            outputs["student_features"],
            strict=True,
        ):
            loss_fn = feature.loss
            if getattr(feature, "needs_example_index", False):
                if example_index is None:
                    raise indices.missing_index_error(feature)
                loss_fn = functools.partial(loss_fn, example_index=example_index)
            reduce = losses.FunctionLoss(loss_fn, name=feature.name)
            total = total + feature.weight * reduce(
                ops.stop_gradient(teacher_map), student_map, sample_weight
            )
        return total


def check_features(features):
    """`features` as a list of `FeatureDistillation` layers (or `None`).

    Each item is a feature method or its config (a saved Distiller's), resolved
    by `kdkeras.losses.get`: a registered method of kind `"features"`.
    """
    if features is None:
        return None
    features = list(features) if isinstance(features, (list, tuple)) else [features]
    features = [
        losses.get(feature) if isinstance(feature, dict) else feature
        for feature in features
    ]
    if not features or not all(isinstance(f, FeatureDistillation) for f in features):
        raise TypeError(
            "`features` must be a list of feature methods (kind 'features' of "
            f"kdkeras.losses: {losses.registered_names('features')}), e.g. "
            "`kdkeras.distillation.Hint` or `AttentionTransfer` objects or "
            f"their configs. Received: features={features!r}"
        )
    return features
