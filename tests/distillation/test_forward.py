import keras
import numpy as np

import kdkeras
from kdkeras.distillation import forward


def _as_numpy(value):
    return keras.ops.convert_to_numpy(value)


def test_training_call_runs_each_model_through_its_view(dense_model):
    teacher = dense_model(3, inputs=2, seed=1, activation="softmax")
    student = dense_model(3, inputs=4, seed=2)
    doubled = keras.layers.Rescaling(2.0)
    first_two = keras.layers.Lambda(lambda batch: batch[:, :2])
    distiller = kdkeras.Distiller(
        teacher, student, teacher_view=first_two, student_view=doubled
    )
    x = np.arange(8, dtype="float32").reshape(2, 4) / 8

    outputs = distiller(x, training=True)

    assert set(outputs) == {forward.STUDENT_LOGITS, forward.TEACHER_LOGITS}
    np.testing.assert_allclose(
        _as_numpy(outputs[forward.STUDENT_LOGITS]),
        _as_numpy(student(2 * x)),
        rtol=1e-6,
    )
    # A softmax teacher's probabilities come back as logits: log p, which
    # softmax maps back to the teacher's probabilities.
    teacher_probabilities = _as_numpy(teacher(x[:, :2]))
    np.testing.assert_allclose(
        _as_numpy(keras.ops.softmax(outputs[forward.TEACHER_LOGITS])),
        teacher_probabilities,
        rtol=1e-5,
    )
    # Inference runs the student alone, through its view.
    np.testing.assert_allclose(
        _as_numpy(distiller(x)), _as_numpy(student(2 * x)), rtol=1e-6
    )


def test_split_outputs_of_a_dict_and_of_the_student_alone():
    student_logits = np.array([[1.0, 2.0]])
    teacher_logits = np.array([[3.0, 4.0]])
    both = {
        forward.STUDENT_LOGITS: student_logits,
        forward.TEACHER_LOGITS: teacher_logits,
    }
    assert forward.split_outputs(both) == (student_logits, teacher_logits)
    assert forward.split_outputs({forward.STUDENT_LOGITS: student_logits}) == (
        student_logits,
        None,
    )
    assert forward.split_outputs(student_logits) == (student_logits, None)
