"""`Distiller`: a `keras.Model` that trains a student on a teacher's outputs."""

import contextlib

import keras
import tensorflow as tf
from keras import ops
from keras.src.losses.loss import (
    scale_loss_for_distribution,
    unscale_loss_for_distribution,
)
from keras.src.saving import serialization_lib
from keras.src.trainers.data_adapters import data_adapter_utils

from kdkeras.distillation import outputs as model_outputs
from kdkeras.distillation.callbacks import RaiseOnNonFiniteLoss
from kdkeras.distillation.objective import DistillationObjective

# In-graph checks start their message with this tag, so `fit` and `evaluate`
# can turn the TensorFlow error into a plain `ValueError`.
_CHECK_TAG = "kdkeras check failed: "


@keras.saving.register_keras_serializable(package="kdkeras")
class Distiller(keras.Model):
    """Trains `student` to match `teacher` (Hinton et al., 2015).

    Each training step minimizes

    ```
    loss = alpha · student_loss(y, s) + (1 − alpha) · distillation_loss(t, s)
    ```

    where `s` and `t` are the student's and the teacher's logits. With the
    default `"kd"` loss, `distillation_loss = T² · KL(softmax(t/T) ‖ softmax(s/T))`
    (arXiv:1503.02531). Only the student's weights are trained; the teacher
    runs frozen with `training=False`. `call` runs the student and passes
    `training` on, so the student's BatchNorm and Dropout behave as in plain
    training.

    Without a teacher (`teacher=None`), the Distiller trains offline from
    stored teacher outputs: each batch is `(x, (labels, teacher_logits))`; see
    `kdkeras.offline`.

    `evaluate()` scores the student alone: `loss` is the student loss on the
    labels, as `student.evaluate` would report it.

    Example:

    ```python
    distiller = kdkeras.Distiller(teacher=teacher, student=student)
    distiller.compile(
        optimizer="adam",
        metrics=["accuracy"],
        alpha=0.1,
        temperature=3,
    )
    distiller.fit(x_train, y_train, epochs=3, validation_data=(x_val, y_val))
    distiller.student.save("student.keras")  # a plain Keras model
    ```

    Args:
        teacher: A Keras model that outputs logits or probabilities, or `None`
            to train from stored teacher logits. It is frozen.
        student: A Keras model that outputs logits (no final softmax).
        teacher_outputs: `"auto"` (probabilities when the teacher ends in a
            softmax, as `keras.applications` heads do; logits otherwise),
            `"logits"` or `"probabilities"`. With `teacher=None`, it describes
            the stored outputs (`"auto"` reads them as logits).
        teacher_view: Optional Keras layer that turns a batch into the
            teacher's input (e.g. `kdkeras.layers.ImageView(size=(96, 96),
            channels=3, preprocessing="mobilenet_v2")`).
        student_view: Optional Keras layer that turns a batch into the
            student's input; also applied by `call`, `predict` and `evaluate`.
        augmentation: Optional Keras layer applied to each training batch
            before both views, so teacher and student see the same augmented
            images ("consistent teaching", Beyer et al., 2022,
            arXiv:2106.05237).
        name: The model's name.
    """

    def __init__(
        self,
        teacher=None,
        student=None,
        teacher_outputs="auto",
        teacher_view=None,
        student_view=None,
        augmentation=None,
        name="distiller",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not isinstance(student, keras.Model):
            raise TypeError(
                "`student` must be a `keras.Model`. "
                f"Received: student={student!r} of type {type(student)}"
            )
        if teacher is not None and not isinstance(teacher, keras.Model):
            raise TypeError(
                "`teacher` must be a `keras.Model` or `None` (offline "
                f"distillation). Received: teacher={teacher!r} of type "
                f"{type(teacher)}"
            )
        if model_outputs.ends_in_softmax(student):
            raise ValueError(
                f"`student` must output logits, but {student.name!r} ends in a "
                "softmax. Build it with `activation=None` on its last layer; add "
                "a `keras.layers.Softmax()` after distillation if the deployed "
                "model should output probabilities."
            )
        self.teacher_outputs = teacher_outputs
        self._teacher_output_kind = model_outputs.resolve_output_kind(
            teacher, teacher_outputs, "teacher_outputs"
        )
        if teacher is not None:
            _check_same_classes(teacher, student)
            teacher.trainable = False
        self.teacher = teacher
        self.student = student
        for argument, layer in (
            ("teacher_view", teacher_view),
            ("student_view", student_view),
            ("augmentation", augmentation),
        ):
            if layer is not None and not isinstance(layer, keras.layers.Layer):
                raise TypeError(
                    f"`{argument}` must be a Keras layer (so that the Distiller "
                    f"saves and reloads it). Received: {argument}={layer!r}"
                )
        self.teacher_view = teacher_view
        self.student_view = student_view
        self.augmentation = augmentation
        self.student_loss_tracker = keras.metrics.Mean(name="student_loss")
        self.distillation_loss_tracker = keras.metrics.Mean(name="distillation_loss")
        self._objective = None
        self._evaluating = False
        # Keras restores weights and the optimizer only into a built model.
        self.built = student.built and (teacher is None or teacher.built)

    def call(self, inputs, training=None):
        if self.student_view is not None:
            inputs = self.student_view(inputs)
        return self.student(inputs, training=training)

    def compile(
        self,
        optimizer="adam",
        metrics=None,
        student_loss_fn=None,
        distillation_loss_fn=None,
        alpha=0.1,
        temperature=None,
        loss=None,
        **kwargs,
    ):
        """Configures the distillation.

        Accepts the keyword arguments of the keras.io distillation example.

        Args:
            optimizer: Optimizer of the student's weights.
            metrics: Metrics of the student's logits against the labels.
            student_loss_fn: Loss of the student's logits against the labels.
                Defaults to `kdkeras.losses.LabelCrossEntropy()` (sparse or
                one-hot labels). A cross-entropy with `from_logits=False` is
                refused: the student outputs logits.
            distillation_loss_fn: A kdkeras loss name (`"kd"`,
                `"soft_target_cross_entropy"`, `"logit_mse"`,
                `"hard_pseudo_label"`) or instance, which take logits; or a
                Keras loss on probabilities (e.g. `keras.losses.KLDivergence()`
                or `"kl_divergence"`), which is fed `softmax(logits / T)` and
                scaled by `T²`. Defaults to `"kd"`.
            alpha: Weight in [0, 1] of the student loss; `1 − alpha` weighs the
                distillation loss.
            temperature: Softening temperature `T > 0`. Defaults to the
                instance's own temperature, else 3.
            loss: Not supported: the Distiller builds its loss from the above.
            **kwargs: Passed to `keras.Model.compile` (e.g. `jit_compile`,
                `steps_per_execution`, `weighted_metrics`, `run_eagerly`).
        """
        if loss is not None:
            raise ValueError(
                "`Distiller.compile` takes `student_loss_fn` and "
                "`distillation_loss_fn`, not `loss`. "
                f"Received: loss={loss!r}"
            )
        self._objective = DistillationObjective(
            student_loss_fn=student_loss_fn,
            distillation_loss_fn=distillation_loss_fn,
            alpha=alpha,
            temperature=temperature,
        )
        super().compile(optimizer=optimizer, metrics=metrics, **kwargs)
        if self.student.built:
            # Built now, the optimizer saves and reloads the same variables
            # whether or not `fit` ran before `save`.
            self.optimizer.build(self.student.trainable_variables)
        self._compile_config = serialization_lib.SerializableDict(
            optimizer=optimizer,
            metrics=metrics,
            **self._objective.get_config(),
            **kwargs,
        )

    @property
    def alpha(self):
        return self._objective.alpha

    @property
    def temperature(self):
        return self._objective.temperature

    @property
    def student_loss_fn(self):
        return self._objective.student_loss_fn

    @property
    def distillation_loss_fn(self):
        return self._objective.distillation_loss_fn

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)

    @property
    def metrics(self):
        metrics = super().metrics
        if self._evaluating:
            own = (self.student_loss_tracker, self.distillation_loss_tracker)
            metrics = [metric for metric in metrics if metric not in own]
        return metrics

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The distillation objective of a batch, scaled for distribution.

        `y` is the labels, or `(labels, teacher_logits)` when training offline.
        During evaluation it is the student loss alone.
        """
        labels, teacher_logits = self._split_targets(y)
        self._check_labels(labels, y_pred)
        student_loss = self._objective.student_loss(labels, y_pred, sample_weight)
        if not training:
            return student_loss + self._regularization_loss()
        self.student_loss_tracker.update_state(
            unscale_loss_for_distribution(student_loss),
            sample_weight=ops.shape(y_pred)[0],
        )
        if teacher_logits is None and self.teacher is None:
            raise ValueError(
                "This Distiller has no teacher (`teacher=None`), so each "
                "training batch must carry the teacher's outputs: "
                "`y=(labels, teacher_logits)` (see `kdkeras.offline`). "
                f"Received: y={y!r}"
            )
        if teacher_logits is None:
            teacher_logits = self._teacher_logits(x)
        else:
            teacher_logits = self._as_logits(teacher_logits)
        _check_same_classes_at_runtime(teacher_logits, y_pred)
        distillation_loss = self._objective.distillation_loss(
            teacher_logits, y_pred, sample_weight
        )
        self.distillation_loss_tracker.update_state(
            unscale_loss_for_distribution(distillation_loss),
            sample_weight=ops.shape(y_pred)[0],
        )
        total_loss = self._objective.combine(student_loss, distillation_loss)
        return total_loss + self._regularization_loss()

    def train_step(self, data):
        """One update of the student: `alpha·student + (1−alpha)·distillation`.

        Mirrors Keras' own TensorFlow `train_step`, so the reported loss is
        right under `tf.distribute` (each replica's loss is scaled by
        1/replicas, the trackers get the unscaled value).
        """
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        if self.augmentation is not None:
            x = self.augmentation(x, training=True)
        with tf.GradientTape() as tape:
            student_logits = self(x, training=True)
            loss = self._compute_loss(
                x=x,
                y=y,
                y_pred=student_logits,
                sample_weight=sample_weight,
                training=True,
            )
            self._track_loss(loss, student_logits)
            scaled_loss = self.optimizer.scale_loss(loss)
        student_weights = self.student.trainable_weights
        gradients = tape.gradient(scaled_loss, student_weights)
        self.optimizer.apply_gradients(zip(gradients, student_weights, strict=True))
        labels, _ = self._split_targets(y)
        return self.compute_metrics(x, labels, student_logits, sample_weight)

    def test_step(self, data):
        """Scores the student alone: its loss on the labels and the metrics."""
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        student_logits = self(x, training=False)
        loss = self._compute_loss(
            x=x,
            y=y,
            y_pred=student_logits,
            sample_weight=sample_weight,
            training=False,
        )
        self._track_loss(loss, student_logits)
        labels, _ = self._split_targets(y)
        return self.compute_metrics(x, labels, student_logits, sample_weight)

    def _track_loss(self, loss, student_logits):
        # `loss` is this replica's share (scaled by 1/replicas): log the whole.
        self._loss_tracker.update_state(
            unscale_loss_for_distribution(loss),
            sample_weight=ops.shape(student_logits)[0],
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        labels, _ = self._split_targets(y)
        return super().compute_metrics(x, labels, y_pred, sample_weight)

    def fit(self, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        if not any(isinstance(c, RaiseOnNonFiniteLoss) for c in callbacks):
            callbacks.append(RaiseOnNonFiniteLoss())
        with _checks_as_value_errors():
            return super().fit(*args, callbacks=callbacks, **kwargs)

    def evaluate(self, *args, **kwargs):
        evaluating, self._evaluating = self._evaluating, True
        try:
            with _checks_as_value_errors():
                return super().evaluate(*args, **kwargs)
        finally:
            self._evaluating = evaluating

    def get_config(self):
        return {
            "teacher": _serialize_without_compile(self.teacher),
            "student": _serialize_without_compile(self.student),
            "teacher_outputs": self.teacher_outputs,
            "teacher_view": _serialize_layer(self.teacher_view),
            "student_view": _serialize_layer(self.student_view),
            "augmentation": _serialize_layer(self.augmentation),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in (
            "teacher",
            "student",
            "teacher_view",
            "student_view",
            "augmentation",
        ):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def _split_targets(self, y):
        """Returns `(labels, teacher_logits or None)` from a batch's targets."""
        if isinstance(y, (tuple, list)):
            if len(y) != 2:
                raise ValueError(
                    "Targets must be `labels` or `(labels, teacher_logits)`. "
                    f"Received a {type(y).__name__} of {len(y)} elements."
                )
            return y[0], y[1]
        return y, None

    def _teacher_logits(self, x):
        if self.teacher_view is not None:
            x = self.teacher_view(x)
        outputs = self.teacher(x, training=False)
        return ops.stop_gradient(self._as_logits(outputs))

    def _as_logits(self, teacher_outputs):
        if self._teacher_output_kind == "probabilities":
            return model_outputs.probabilities_to_logits(teacher_outputs)
        return teacher_outputs

    def _regularization_loss(self):
        if not self.losses:
            return 0.0
        # Each replica adds its share, so the summed gradient counts it once.
        return scale_loss_for_distribution(ops.sum(self.losses))

    def _check_labels(self, labels, student_logits):
        num_classes = student_logits.shape[-1]
        labels = tf.convert_to_tensor(labels)
        if len(labels.shape) == len(student_logits.shape) and labels.shape[-1] != 1:
            if labels.shape[-1] is not None and labels.shape[-1] != num_classes:
                raise ValueError(
                    f"One-hot labels must have {num_classes} columns, one per "
                    f"class of the student. Received labels of shape {labels.shape}"
                )
            return
        if self.jit_compile or not labels.dtype.is_integer or num_classes is None:
            return  # XLA drops assertions.
        message = (
            f"{_CHECK_TAG}Labels must be class ids in [0, {num_classes}) for a "
            f"student with {num_classes} outputs. Received labels outside it:"
        )
        in_range = tf.logical_and(labels >= 0, labels < num_classes)
        tf.debugging.Assert(
            tf.reduce_all(in_range),
            [message, tf.boolean_mask(labels, tf.logical_not(in_range))],
            summarize=5,
        )


@contextlib.contextmanager
def _checks_as_value_errors():
    """Re-raises a failed in-graph kdkeras check as a `ValueError`."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        if _CHECK_TAG not in str(error):
            raise
        message = str(error).split(_CHECK_TAG, 1)[1].split("\n\t [[")[0]
        raise ValueError(message.replace(":] [", ": [").strip()) from None


def _serialize_without_compile(model):
    # The Distiller's own compile state is what matters when it is reloaded;
    # an inner model's optimizer would be rebuilt empty and warned about.
    if model is None:
        return None
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    return config


def _serialize_layer(layer):
    return None if layer is None else keras.saving.serialize_keras_object(layer)


def _num_classes(model):
    try:
        return model.outputs[0].shape[-1] if model.outputs else None
    except (AttributeError, ValueError):
        return None


def _check_same_classes(teacher, student):
    teacher_classes, student_classes = _num_classes(teacher), _num_classes(student)
    if None not in (teacher_classes, student_classes) and (
        teacher_classes != student_classes
    ):
        raise ValueError(
            "`teacher` and `student` must output the same number of classes. "
            f"Received: teacher with {teacher_classes} outputs, student with "
            f"{student_classes} outputs"
        )


def _check_same_classes_at_runtime(teacher_logits, student_logits):
    teacher_classes = teacher_logits.shape[-1]
    student_classes = student_logits.shape[-1]
    if None not in (teacher_classes, student_classes) and (
        teacher_classes != student_classes
    ):
        raise ValueError(
            "The teacher's logits and the student's must have the same number "
            f"of classes. Received: teacher_logits with {teacher_classes} "
            f"classes, student logits with {student_classes}"
        )
