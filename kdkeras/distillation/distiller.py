"""`Distiller`: a `keras.Model` that trains a student on a teacher's outputs.

It runs on every Keras 3 backend: only `keras.ops` inside, no TensorFlow call.
"""

import keras
from keras import ops

from kdkeras import compat
from kdkeras.distillation import (
    example_index,
    forward,
    inputs,
    model_checks,
    serialization,
)
from kdkeras.distillation import features as feature_distillation
from kdkeras.distillation import outputs as model_outputs
from kdkeras.distillation.callbacks import RaiseOnNonFiniteLoss
from kdkeras.distillation.loss_logs import LossLogs
from kdkeras.distillation.objective import DEFAULT_ALPHA, DistillationObjective


@keras.saving.register_keras_serializable(package="kdkeras")
class Distiller(compat.MultiWorkerFit, LossLogs, forward.DistillerForward, keras.Model):
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
    training. The Distiller overrides only what distillation needs
    (`call`, `compute_loss`, `compute_metrics`), so Keras' own trainer does
    the gradient step, loss scaling under `tf.distribute` and tracking, on
    every Keras 3 backend (tested on TensorFlow and JAX).

    Without a teacher (`teacher=None`), the Distiller trains offline from
    stored teacher outputs: each batch is `(x, (labels, teacher_logits))`; see
    `kdkeras.caches`.

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
        teacher: A Keras model that outputs logits or probabilities; a list
            of them (taught as one `TeacherEnsemble`: the mean of their
            logits; pass a `TeacherEnsemble` for weights); or `None` to train
            from stored teacher logits. It is frozen.
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
        features: Optional feature distillation: a list of feature methods
            (kind `"features"` of the `kdkeras.losses` registry, e.g.
            `kdkeras.distillation.Hint` or `AttentionTransfer`, or their
            configs, resolved by `kdkeras.losses.get`) pairing named layers
            of the teacher and the student (functional models). Their
            projections train with the student but are not part of it.
            A method that needs each example's index (`"crd"`) gets it from
            `fit`: see `kdkeras.distillation.example_index`. With
            `teacher=None` they train from stored teacher features: each
            batch is `(x, (labels, teacher_logits, teacher_features))`.
        teacher_feature_shapes: With `teacher=None` and `features`, the
            per-example shape of each stored teacher layer the methods name,
            e.g. `{"pool": (128,)}` (see
            `kdkeras.caches.compute_teacher_features`).
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
        features=None,
        teacher_feature_shapes=None,
        name="distiller",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.student = model_checks.checked_student(student)
        teacher, self.teacher_outputs, self._teacher_output_kind = (
            model_checks.checked_teacher(teacher, teacher_outputs, student)
        )
        self.teacher = teacher
        layers = model_checks.checked_fixed_layers(
            teacher_view=teacher_view,
            student_view=student_view,
            augmentation=augmentation,
        )
        self.teacher_view = layers["teacher_view"]
        self.student_view = layers["student_view"]
        self.augmentation = layers["augmentation"]
        self.features = feature_distillation.check_features(features)
        self.teacher_feature_shapes = feature_distillation.check_feature_shapes(
            teacher_feature_shapes, self.features, teacher
        )
        self._taps = None
        if self.features:
            self._taps = feature_distillation.FeatureTaps(
                teacher, student, self.features, self.teacher_feature_shapes
            )
        self._create_loss_trackers()
        self._step = None
        self._objective = None
        self._compile_arguments = None
        self._evaluating = False
        self._checked_datasets = inputs.CheckedDatasets()
        # Keras restores weights and the optimizer only into a built model.
        self.built = student.built and (teacher is None or teacher.built)

    def call(self, inputs, training=None):
        """The student's logits; in training, the teacher's logits as well.

        With `training=True` (as Keras' trainer calls it), the batch is
        augmented once, both models see that same augmented batch through
        their views, and the result is a dict with `"student_logits"` and,
        when there is a teacher, `"teacher_logits"` (frozen, no gradient),
        plus `"student_features"` and `"teacher_features"` with `features`.
        Otherwise it is the student's logits, as `predict` returns them.
        """
        if not training:
            return self._student_logits(inputs, training=training)
        if self.augmentation is not None:
            inputs = self.augmentation(inputs, training=True)
        if self._taps is not None:
            return self._tapped_outputs(inputs)
        logits = {forward.STUDENT_LOGITS: self._student_logits(inputs, training=True)}
        if self.teacher is not None:
            logits[forward.TEACHER_LOGITS] = self._teacher_logits(inputs)
        return logits

    def build(self, input_shape):
        """Creates the weights of every model, the teacher's included.

        Keras builds a model by running `call` in inference mode, which does
        not reach the teacher; a traced (JAX) step cannot create it later.
        """
        self.compute_output_spec(keras.KerasTensor(input_shape), training=True)

    def compile(
        self,
        optimizer="adam",
        metrics=None,
        student_loss_fn=None,
        distillation_loss_fn=None,
        alpha=DEFAULT_ALPHA,
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
                one-hot labels). A cross-entropy with `from_logits=False` (or
                a loss name such as `"sparse_categorical_crossentropy"`,
                which means the same) is refused: the student outputs logits.
            distillation_loss_fn: A kdkeras loss of kind `"logits"` (a name
                of `kdkeras.losses.registered_names("logits")`, a config or
                an instance), which takes logits; or a
                Keras loss on probabilities (e.g. `keras.losses.KLDivergence()`
                or `"kl_divergence"`), which is fed `softmax(logits / T)` and
                scaled by `T²`. Defaults to `"kd"`.
            alpha: Weight in [0, 1] of the student loss; `1 − alpha` weighs the
                distillation loss. Or a schedule of the training step
                (`kdkeras.distillation.schedules`, or any callable of it).
            temperature: Softening temperature `T > 0`, or a schedule of it.
                Defaults to the instance's own temperature, else 3. It is
                passed to the loss at each call (a loss instance's own
                temperature is only this default). Scheduled values are
                logged as `alpha` and `temperature`.
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
        if self._objective.scheduled and self._step is None:
            # Counts training steps for the schedules; a variable of the model,
            # so every backend updates it inside the step and it is saved.
            self._step = self.add_weight(
                shape=(),
                dtype="int32",
                initializer="zeros",
                trainable=False,
                name="distillation_step",
                aggregation="only_first_replica",
            )
        if self.student.built:
            # Built now, the optimizer saves and reloads the same variables
            # whether or not `fit` ran before `save`.
            self.optimizer.build(self.trainable_variables)
        self._compile_arguments = {
            "optimizer": optimizer,
            "metrics": metrics,
            **self._objective.get_config(),
            **kwargs,
        }

    def get_compile_config(self):
        """The arguments of `compile`, serialized (saved with the model)."""
        if self._compile_arguments is None:
            return None
        return keras.saving.serialize_keras_object(self._compile_arguments)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))

    @property
    def alpha(self):
        """The weight of the student loss: a number, or its schedule."""
        return self._objective.alpha_schedule or self._objective.alpha

    @property
    def temperature(self):
        """The softening temperature: a number, or its schedule."""
        return self._objective.temperature_schedule or self._objective.temperature

    @property
    def student_loss_fn(self):
        return self._objective.student_loss_fn

    @property
    def distillation_loss_fn(self):
        return self._objective.distillation_loss_fn

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """The distillation objective of a batch.

        `y` is the labels, or `(labels, teacher_logits)` when training offline;
        `y_pred` is what `call` returned. During evaluation it is the student
        loss alone. Each term is scaled for distribution as Keras' own losses
        are; the trackers log the unscaled values.
        """
        student_logits, teacher_logits = forward.split_outputs(y_pred)
        labels, stored_teacher_logits, stored_features = inputs.split_targets(y)
        inputs.check_one_hot_width(labels, student_logits)
        student_loss = self._objective.student_loss(
            labels, student_logits, sample_weight
        )
        if not training:
            return student_loss + self._regularization_loss()
        if stored_teacher_logits is not None:
            teacher_logits = self._as_logits(stored_teacher_logits)
        elif teacher_logits is None:
            raise ValueError(
                "This Distiller has no teacher (`teacher=None`), so each "
                "training batch must carry the teacher's outputs: "
                "`y=(labels, teacher_logits)` (see `kdkeras.caches`). "
                f"Received: y={y!r}"
            )
        model_outputs.check_same_classes_of_logits(teacher_logits, student_logits)
        alpha, temperature = self._scheduled_values()
        distillation_loss = self._objective.distillation_loss(
            teacher_logits,
            student_logits,
            sample_weight,
            labels=labels,
            temperature=temperature,
        )
        batch_size = ops.shape(student_logits)[0]
        self._log_losses(
            batch_size, student=student_loss, distillation=distillation_loss
        )
        total_loss = self._objective.combine(student_loss, distillation_loss, alpha)
        if self._taps is not None:
            feature_loss = self._taps.loss(
                y_pred, sample_weight, example_index.split(y)[1], stored_features
            )
            self._log_losses(batch_size, feature=feature_loss)
            total_loss = total_loss + feature_loss
        return total_loss + self._regularization_loss()

    def _scheduled_values(self):
        """`(alpha, temperature)` of this step; advances the step counter."""
        if self._step is None or not self._objective.scheduled:
            return self._objective.alpha, self._objective.temperature
        step = ops.convert_to_tensor(self._step)
        alpha, temperature = self._objective.at(step)
        self._log_scheduled(alpha, temperature)
        self._step.assign_add(1)
        return alpha, temperature

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """The compiled metrics of the student's logits against the labels."""
        labels, *_ = inputs.split_targets(y)
        student_logits, _ = forward.split_outputs(y_pred)
        return super().compute_metrics(x, labels, student_logits, sample_weight)

    def fit(self, x=None, y=None, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`, with the labels checked first.

        Labels out of the student's classes raise a `ValueError` (NumPy
        arrays before the first step; a `tf.data.Dataset` when the bad batch
        is read), and a non-finite loss stops training with a
        `NonFiniteLossError` (see `RaiseOnNonFiniteLoss`).
        """
        x, kwargs = inputs.checked_fit_arguments(
            x,
            y,
            kwargs,
            model_outputs.num_classes(self.student),
            self._checked_datasets,
        )
        x, y = example_index.attached(self.features, x, y)
        callbacks = list(callbacks or [])
        if not any(isinstance(c, RaiseOnNonFiniteLoss) for c in callbacks):
            callbacks.append(RaiseOnNonFiniteLoss())
        with inputs.checks_as_value_errors():
            return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate` of the student alone, labels checked first.

        `loss` is the student loss on the labels, as `student.evaluate` would
        report it.
        """
        x = inputs.checked(
            x,
            y,
            model_outputs.num_classes(self.student),
            self._checked_datasets,
            "evaluate",
        )
        evaluating, self._evaluating = self._evaluating, True
        try:
            with inputs.checks_as_value_errors():
                return super().evaluate(x, y, *args, **kwargs)
        finally:
            self._evaluating = evaluating

    def get_config(self):
        return serialization.distiller_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**serialization.constructor_arguments(config))

    def _regularization_loss(self):
        if not self.losses:
            return 0.0
        # Each replica adds its share, so the summed gradient counts it once.
        return compat.scale_loss_for_distribution(
            ops.sum([ops.sum(loss) for loss in self.losses])
        )
