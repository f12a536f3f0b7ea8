"""Several teachers as one: a weighted average of their logits.

```python
distiller = kdkeras.Distiller(teacher=[resnet, mobilenet], student=student)
# or with weights, as a model of its own:
ensemble = kdkeras.distillation.TeacherEnsemble([resnet, mobilenet], weights=[2, 1])
# stored logits of several teachers, for offline distillation:
logits = kdkeras.distillation.average_teacher_logits([logits_a, logits_b])
```

The teachers' logits are averaged (probability outputs are turned into logits
first, `log p`), so the ensemble's softened distribution is
`softmax(Σ w_i · t_i / T)`: a weighted geometric mean of the teachers'
distributions, the ensemble of "multiple teacher" KD (You et al., 2017,
"Learning from Multiple Teacher Networks", KDD).
"""

import math

import keras
import numpy as np

from kdkeras.distillation import outputs as model_outputs
from kdkeras.validation import check_finite


def _normalized_weights(weights, count, argument_name="weights"):
    if weights is None:
        return [1.0 / count] * count
    weights = list(weights)
    if len(weights) != count or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
        for w in weights
    ):
        raise ValueError(
            f"`{argument_name}` must be {count} finite numbers, one per teacher. "
            f"Received: {argument_name}={weights!r}"
        )
    if min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(
            f"`{argument_name}` must be ≥ 0 with a positive sum. "
            f"Received: {argument_name}={weights!r}"
        )
    total = float(sum(weights))
    return [float(w) / total for w in weights]


@keras.saving.register_keras_serializable(package="kdkeras")
class TeacherEnsemble(keras.Model):
    """Teachers that answer as one: the weighted mean of their logits.

    `ensemble(x) = Σ_i w_i · logits_i(x)`, with `w` normalized to sum to 1.
    Each teacher runs frozen, with `training=False`. The ensemble outputs
    logits (`output_kind = "logits"`).

    Args:
        teachers: Two or more Keras models with the same number of classes,
            taking the same input.
        weights: One non-negative weight per teacher; `None` for equal ones.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`, for all
            teachers, or a list with one per teacher (see `Distiller`).
        name: The model's name.
    """

    output_kind = "logits"

    def __init__(
        self,
        teachers,
        weights=None,
        teacher_outputs="auto",
        name="teacher_ensemble",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        teachers = list(teachers) if isinstance(teachers, (list, tuple)) else None
        if not teachers or not all(isinstance(t, keras.Model) for t in teachers):
            raise TypeError(
                "`teachers` must be a list of Keras models. "
                f"Received: teachers={teachers!r}"
            )
        kinds = teacher_outputs
        if isinstance(kinds, str):
            kinds = [kinds] * len(teachers)
        if len(kinds) != len(teachers):
            raise ValueError(
                "`teacher_outputs` must be one kind, or one per teacher "
                f"({len(teachers)}). Received: teacher_outputs={teacher_outputs!r}"
            )
        self._output_kinds = [
            model_outputs.resolve_output_kind(teacher, kind, "teacher_outputs")
            for teacher, kind in zip(teachers, kinds, strict=True)
        ]
        for teacher in teachers[1:]:
            model_outputs.check_same_classes(teachers[0], teacher)
        for teacher in teachers:
            teacher.trainable = False
        self.teachers = teachers
        self.teacher_outputs = teacher_outputs
        self.teacher_weights = _normalized_weights(weights, len(teachers))
        self._weights_argument = None if weights is None else list(weights)
        self.built = all(teacher.built for teacher in teachers)

    def call(self, inputs, training=False):
        logits = 0.0
        for teacher, kind, weight in zip(
            self.teachers, self._output_kinds, self.teacher_weights, strict=True
        ):
            outputs = teacher(inputs, training=False)
            if kind == "probabilities":
                outputs = model_outputs.probabilities_to_logits(outputs)
            logits = logits + weight * outputs
        return logits

    def compute_output_shape(self, input_shape):
        return self.teachers[0].compute_output_shape(input_shape)

    def get_config(self):
        return {
            "teachers": [
                keras.saving.serialize_keras_object(teacher)
                for teacher in self.teachers
            ],
            "weights": self._weights_argument,
            "teacher_outputs": self.teacher_outputs,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["teachers"] = [
            keras.saving.deserialize_keras_object(teacher)
            for teacher in config["teachers"]
        ]
        return cls(**config)


def average_teacher_logits(teacher_logits, weights=None):
    """The weighted mean of stored logits of several teachers.

    The offline counterpart of `TeacherEnsemble`: feed the result to
    `kdkeras.caches.offline_dataset`.

    Args:
        teacher_logits: A list of arrays `(num_samples, num_classes)`, one per
            teacher, in the same sample order.
        weights: One non-negative weight per teacher; `None` for equal ones.

    Returns:
        `float32` array `(num_samples, num_classes)`.
    """
    arrays = [np.asarray(logits, dtype="float32") for logits in teacher_logits]
    if (
        not arrays
        or len({array.shape for array in arrays}) != 1
        or (arrays[0].ndim != 2)
    ):
        raise ValueError(
            "`teacher_logits` must be a non-empty list of arrays of one shape "
            "(num_samples, num_classes). Received shapes: "
            f"{[array.shape for array in arrays]}"
        )
    for index, array in enumerate(arrays):
        check_finite(array, f"teacher_logits[{index}]")
    weights = _normalized_weights(weights, len(arrays))
    return sum(w * a for w, a in zip(weights, arrays, strict=True)).astype("float32")
