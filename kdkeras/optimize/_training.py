"""Fine-tuning a `tf_keras` model on the distillation objective of a `Distiller`.

The teacher's logits travel with the labels: each batch is
`(x, [label, teacher_logit_1, ..., teacher_logit_C])`, so a plain
`tf_keras.Model.fit` minimizes the same loss as `kdkeras.Distiller`. A Keras 3
teacher runs inside the `tf.data` pipeline (both Keras versions build
TensorFlow graphs), or stored logits (`kdkeras.caches`) are zipped in.
"""

import keras
import numpy as np
import tensorflow as tf

from kdkeras import progress
from kdkeras.distillation import inputs as label_checks
from kdkeras.distillation import outputs as model_outputs
from kdkeras.distillation.objective import DistillationObjective
from kdkeras.optimize import bridge
from kdkeras.validation import (
    check_finite,
    check_keras_model,
    check_number,
    check_positive_int,
)


def check_arguments(student, epochs, batch_size, learning_rate):
    """Raises for arguments QAT and pruning cannot train with.

    Called first: rebuilding the student in `tf_keras` takes a while.
    """
    check_keras_model(student, "student")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_number(learning_rate, "learning_rate", low=0, include_low=False)


def distillation_objective(alpha, temperature, distillation_loss_fn=None):
    """The `DistillationObjective` a `Distiller` compiled with these arguments uses."""
    return DistillationObjective(
        distillation_loss_fn=distillation_loss_fn,
        alpha=alpha,
        temperature=temperature,
    )


def prepare(student, data, alpha, temperature, **dataset_kwargs):
    """What QAT and pruning start from.

    Returns:
        `(objective, dataset, validation, steps_per_epoch, tf_keras_model)`:
        the `Distiller`'s objective, the datasets of `build_datasets`, and
        `student` rebuilt in `tf_keras`, checked to give the same outputs.
    """
    objective = distillation_objective(alpha, temperature)
    dataset, validation, steps_per_epoch = build_datasets(
        data, num_classes=model_outputs.num_classes(student), **dataset_kwargs
    )
    tf_keras_model = bridge.to_tf_keras(student)
    bridge.check_same_outputs(student, tf_keras_model, first_inputs(data))
    return objective, dataset, validation, steps_per_epoch, tf_keras_model


def packed_loss(objective):
    """A loss of `(packed_targets, student_logits)` for `tf_keras` `compile`.

    With teacher logits in the targets it is
    `alpha · student_loss + (1 − alpha) · distillation_loss`, the `Distiller`'s
    training loss; with labels only, the student loss, as `Distiller.evaluate`
    reports it.
    """

    def distillation_loss(packed_targets, student_logits):
        labels = packed_targets[:, 0]
        student_loss = objective.student_loss(labels, student_logits)
        if packed_targets.shape[-1] == 1:
            return student_loss
        teacher_logits = packed_targets[:, 1:]
        return objective.combine(
            student_loss, objective.distillation_loss(teacher_logits, student_logits)
        )

    return distillation_loss


def packed_accuracy(packed_targets, student_logits):
    """Top-1 accuracy of the student against the labels in `packed_targets`."""
    labels = tf.cast(packed_targets[:, 0], "int64")
    return tf.cast(tf.equal(tf.argmax(student_logits, axis=-1), labels), "float32")


def _as_arrays(data, argument_name, num_classes=None):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            f"`{argument_name}` must be a tuple `(x, y)` of arrays with integer "
            f"class labels. Received: {argument_name} of type {type(data)}"
        )
    x, y = np.asarray(data[0]), np.asarray(data[1])
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(
            f"`{argument_name}` must hold at least one example. Received inputs "
            f"of shape {x.shape}"
        )
    if len(x) != len(y):
        raise ValueError(f"`{argument_name}` has {len(x)} inputs but {len(y)} labels.")
    if y.ndim <= 1 or y.shape[-1] == 1:
        # The same checks as the Distiller's: whole class ids in range.
        label_checks.check_labels(y, num_classes, argument_name)
    if y.ndim > 1 and y.shape[-1] != 1:
        raise ValueError(
            f"`{argument_name}` labels must be integer class ids of shape "
            f"(n,) or (n, 1). Received labels of shape {y.shape}"
        )
    return x, y.reshape(len(y), 1).astype("float32")


def build_datasets(
    data,
    teacher=None,
    teacher_logits=None,
    teacher_outputs="auto",
    validation_data=None,
    batch_size=64,
    seed=0,
    num_classes=None,
):
    """Returns `(train_dataset, validation_dataset or None, steps_per_epoch)`.

    `num_classes` is the student's; labels and teacher outputs are checked
    against it before anything is built.
    """
    if teacher is not None and teacher_logits is not None:
        raise ValueError(
            "Pass either `teacher` (run on each batch) or `teacher_logits` "
            "(stored, see `kdkeras.caches`), not both."
        )
    if teacher is not None and not isinstance(teacher, keras.Model):
        raise TypeError(
            "`teacher` must be a Keras 3 `keras.Model`. "
            f"Received: teacher={teacher!r} of type {type(teacher)}"
        )
    x, y = _as_arrays(data, "data", num_classes)
    if teacher is not None:
        teacher_classes = model_outputs.num_classes(teacher)
        if None not in (teacher_classes, num_classes) and teacher_classes != (
            num_classes
        ):
            raise ValueError(
                "`teacher` and the student must output the same number of "
                f"classes. Received: teacher with {teacher_classes} outputs, "
                f"student with {num_classes}"
            )
    if teacher_logits is not None:
        teacher_logits = np.asarray(teacher_logits, dtype="float32")
        if (
            teacher_logits.ndim != 2
            or len(teacher_logits) != len(x)
            or (num_classes is not None and teacher_logits.shape[1] != num_classes)
        ):
            raise ValueError(
                "`teacher_logits` must have shape (n, classes), one row per "
                f"input of `data` ({len(x)}) and one column per class of the "
                f"student ({num_classes}). Received shape {teacher_logits.shape}"
            )
        check_finite(teacher_logits, "teacher_logits")
        kind = model_outputs.resolve_output_kind(
            None, teacher_outputs, "teacher_outputs"
        )
        if kind == "probabilities":
            teacher_logits = np.asarray(
                model_outputs.probabilities_to_logits(teacher_logits)
            )
        y = np.concatenate([y, teacher_logits], axis=1)
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    if teacher is not None:
        dataset = dataset.map(_with_teacher_logits(teacher, teacher_outputs))
    validation = None
    if validation_data is not None:
        x_val, y_val = _as_arrays(validation_data, "validation_data", num_classes)
        validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(
            batch_size
        )
    steps = -(-len(x) // batch_size)
    return dataset.prefetch(tf.data.AUTOTUNE), validation, steps


def _with_teacher_logits(teacher, teacher_outputs):
    kind = model_outputs.resolve_output_kind(
        teacher, teacher_outputs, "teacher_outputs"
    )

    def add_teacher_logits(x, y):
        outputs = teacher(x, training=False)
        if kind == "probabilities":
            outputs = model_outputs.probabilities_to_logits(outputs)
        return x, tf.concat([y, tf.cast(outputs, "float32")], axis=1)

    return add_teacher_logits


def first_inputs(data, count=32):
    """Up to `count` inputs of `data`, to check a rebuild on."""
    return np.asarray(data[0][:count])


def check_verbose(verbose):
    """`verbose` as 0, 1 or 2 (`"auto"`: 1), as Keras' `fit` takes it."""
    return progress.check_verbose(verbose, auto=1)


def fit(
    model,
    objective,
    dataset,
    validation,
    epochs,
    learning_rate,
    callbacks=(),
    verbose=0,
):
    """Compiles `model` with the distillation loss, fits it, returns the history.

    `verbose` is `fit`'s: 0 silent, 1 a progress bar, 2 one line per epoch
    (`loss`, `accuracy` and the `val_` values).
    """
    tfk = bridge.tf_keras()
    model.compile(
        optimizer=tfk.optimizers.Adam(learning_rate),
        loss=packed_loss(objective),
        metrics=[tfk.metrics.MeanMetricWrapper(packed_accuracy, name="accuracy")],
    )
    history = model.fit(
        dataset,
        epochs=epochs,
        validation_data=validation,
        callbacks=list(callbacks),
        verbose=verbose,
    )
    return {
        key: [float(value) for value in values]
        for key, values in history.history.items()
    }
