"""Checks of the models and layers given to a `Distiller`."""

import keras

from kdkeras.distillation import outputs as model_outputs
from kdkeras.distillation.teachers import TeacherEnsemble


def checked_student(student):
    """`student`, if it is a Keras model with one output of logits."""
    if not isinstance(student, keras.Model):
        raise TypeError(
            "`student` must be a `keras.Model`. "
            f"Received: student={student!r} of type {type(student)}"
        )
    model_outputs.check_single_output(student, "student")
    if model_outputs.ends_in_softmax(student):
        raise ValueError(
            f"`student` must output logits, but {student.name!r} ends in a "
            "softmax. Build it with `activation=None` on its last layer; add "
            "a `keras.layers.Softmax()` after distillation if the deployed "
            "model should output probabilities."
        )
    return student


def checked_teacher(teacher, teacher_outputs, student):
    """`(teacher, teacher_outputs, output_kind)`, the teacher frozen.

    A list of teachers becomes one `TeacherEnsemble` (which outputs logits).
    """
    if isinstance(teacher, (list, tuple)):
        teacher = TeacherEnsemble(teacher, teacher_outputs=teacher_outputs)
        teacher_outputs = "auto"
    if teacher is not None and not isinstance(teacher, keras.Model):
        raise TypeError(
            "`teacher` must be a `keras.Model`, a list of them or `None` "
            f"(offline distillation). Received: teacher={teacher!r} of type "
            f"{type(teacher)}"
        )
    output_kind = model_outputs.resolve_output_kind(
        teacher, teacher_outputs, "teacher_outputs"
    )
    if teacher is not None:
        model_outputs.check_same_classes(teacher, student)
        teacher.trainable = False
    return teacher, teacher_outputs, output_kind


def checked_fixed_layers(**layers):
    """The views and augmentation, each a Keras layer or `None`, frozen."""
    for argument, layer in layers.items():
        if layer is not None and not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                f"`{argument}` must be a Keras layer (so that the Distiller "
                f"saves and reloads it). Received: {argument}={layer!r}"
            )
        if layer is not None:
            # Views and augmentation are fixed: only the student learns.
            layer.trainable = False
    return layers
