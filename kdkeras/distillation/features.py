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
import numbers

import keras
from keras import ops

from kdkeras import losses
from kdkeras.distillation import example_index as indices
from kdkeras.distillation.forward import STUDENT_LOGITS, TEACHER_LOGITS
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
        teacher: The (functional) teacher, or `None` when its features are
            stored and come with the targets (offline).
        student: The (functional) student.
        features: The `FeatureDistillation` layers; they are built here.
        teacher_feature_shapes: With `teacher=None`, the per-example shape of
            each stored teacher layer, by name (see `check_feature_shapes`).
    """

    def __init__(self, teacher, student, features, teacher_feature_shapes=None):
        self.features = list(features)
        self.student = feature_extractor(
            student, [f.student_layer for f in self.features], "student"
        )
        if teacher is None:
            self.teacher = None
            teacher_shapes = [
                (None, *teacher_feature_shapes[f.teacher_layer]) for f in self.features
            ]
        else:
            self.teacher = feature_extractor(
                teacher, [f.teacher_layer for f in self.features], "teacher"
            )
            teacher_shapes = [output.shape for output in self.teacher.outputs[1:]]
        for feature, teacher_shape, student_output in zip(
            self.features, teacher_shapes, self.student.outputs[1:], strict=True
        ):
            if not feature.built:
                feature.build((teacher_shape, student_output.shape))
        # Each teacher layer's per-example shape, to check stored features.
        self._teacher_shapes = {
            f.teacher_layer: tuple(shape[1:])
            for f, shape in zip(self.features, teacher_shapes, strict=True)
        }

    def __call__(self, student_inputs, teacher_inputs):
        """Both models in training mode: logits and features, as a dict.

        Keys: `student_logits`, `teacher_logits` (the teacher's raw outputs),
        `student_features` and `teacher_features` (lists, one per pair; the
        teacher's without gradient). Without a teacher, only the student's.
        """
        student_logits, *student_features = self.student(student_inputs, training=True)
        outputs = {
            STUDENT_LOGITS: student_logits,
            "student_features": student_features,
        }
        if self.teacher is not None:
            teacher_outputs, *teacher_features = self.teacher(
                teacher_inputs, training=False
            )
            outputs[TEACHER_LOGITS] = teacher_outputs
            outputs["teacher_features"] = [
                ops.stop_gradient(f) for f in teacher_features
            ]
        return outputs

    def loss(
        self, outputs, sample_weight=None, example_index=None, stored_features=None
    ):
        """`Σ weight_i · mean_batch(loss_i)` of `__call__`'s outputs, reduced
        (with sample weights, scaled under distribution) as Keras losses are.

        `example_index` goes to the methods that need it (CRD).
        `stored_features` (a dict by teacher layer name, from the targets of
        an offline batch) take the place of the teacher's."""
        teacher_features = self._teacher_features(outputs, stored_features)
        total = 0.0
        for feature, teacher_map, student_map in zip(
            self.features,
            teacher_features,
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

    def _teacher_features(self, outputs, stored_features):
        """The teacher's feature maps, one per method: stored, or computed."""
        names = [f.teacher_layer for f in self.features]
        if stored_features is None:
            if self.teacher is None:
                raise ValueError(
                    "This Distiller has no teacher (`teacher=None`), so each "
                    "training batch must carry the teacher's stored features: "
                    "`y=(labels, teacher_logits, teacher_features)` with "
                    f"`teacher_features` a dict of the layers {names} (see "
                    "`kdkeras.caches.compute_teacher_features` and "
                    "`offline_dataset(..., teacher_features=...)`)."
                )
            return outputs["teacher_features"]
        if not isinstance(stored_features, dict) or not set(names) <= set(
            stored_features
        ):
            received = (
                sorted(stored_features)
                if isinstance(stored_features, dict)
                else type(stored_features).__name__
            )
            raise ValueError(
                "Stored teacher features must be a dict by teacher layer name "
                f"holding the layers {names}. Received: {received}"
            )
        for name, expected in self._teacher_shapes.items():
            received = tuple(stored_features[name].shape[1:])
            if None not in received and received != expected:
                raise ValueError(
                    f"Stored teacher features {name!r} must have the per-example "
                    f"shape given in `teacher_feature_shapes`: {expected}. "
                    f"Received: {received}"
                )
        return [stored_features[name] for name in names]


def check_feature_shapes(teacher_feature_shapes, features, teacher):
    """`teacher_feature_shapes` as `{layer name: tuple of ints}`, or `None`.

    Only an offline Distiller (`teacher=None`) with `features` takes them:
    the per-example shape of each stored teacher layer a method names, e.g.
    `{"pool": (128,)}` (`{name: a.shape[1:] for name, a in stored.items()}`).

    Raises:
        ValueError: Shapes given with a teacher or without features, missing
            for an offline Distiller with features, or not positive sizes
            for every teacher layer the methods name.
    """
    if teacher is not None or not features:
        if teacher_feature_shapes is not None:
            reason = (
                "a teacher model gives its own layers' shapes"
                if teacher is not None
                else "there are no `features`"
            )
            raise ValueError(
                "`teacher_feature_shapes` describe stored teacher features, for "
                f"`teacher=None` with `features`; here {reason}. Received: "
                f"teacher_feature_shapes={teacher_feature_shapes!r}"
            )
        return None
    names = [f.teacher_layer for f in features]
    if teacher_feature_shapes is None:
        raise ValueError(
            "`features` without a teacher (`teacher=None`) train from stored "
            "teacher features, so the Distiller needs their shapes: "
            f"`teacher_feature_shapes={{name: shape}}` for the layers {names} "
            "(see `kdkeras.caches.compute_teacher_features`). Received: "
            "teacher_feature_shapes=None"
        )
    if not isinstance(teacher_feature_shapes, dict):
        raise ValueError(
            "`teacher_feature_shapes` must be a dict from teacher layer name to "
            "its per-example shape, e.g. {'pool': (128,)}. Received: "
            f"{teacher_feature_shapes!r}"
        )
    missing = [name for name in names if name not in teacher_feature_shapes]
    if missing:
        raise ValueError(
            f"`teacher_feature_shapes` must give the shape of every teacher "
            f"layer the features name: {names}. Missing: {missing}. Received "
            f"the layers: {sorted(teacher_feature_shapes)}"
        )
    shapes = {}
    for name, shape in teacher_feature_shapes.items():
        sizes = list(shape) if isinstance(shape, (tuple, list)) else None
        if not sizes or not all(_is_size(size) for size in sizes):
            raise ValueError(
                f"`teacher_feature_shapes[{name!r}]` must be the per-example "
                "shape of the stored features (positive sizes, without the "
                f"batch axis), e.g. (128,). Received: {shape!r}"
            )
        shapes[name] = tuple(int(size) for size in sizes)
    return shapes


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


def _is_size(size):
    """Whether `size` is a positive whole number (a Python or NumPy integer)."""
    whole = isinstance(size, numbers.Integral) and not isinstance(size, bool)
    return whole and size > 0
