import math

import numpy as np
import pytest
import tensorflow as tf

from kdkeras.losses import functional

LN2, LN3 = math.log(2.0), math.log(3.0)
# With T = 2 these teacher logits soften to p_t = [1/4, 3/4]; the student's
# zeros give p_s = [1/2, 1/2].
TEACHER = np.array([[0.0, 2.0 * LN3]], dtype="float32")
STUDENT = np.array([[0.0, 0.0]], dtype="float32")


def test_kd_loss_is_t_squared_times_kl_by_hand():
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    value = functional.kd_loss(TEACHER, STUDENT, temperature=2.0)
    np.testing.assert_allclose(np.asarray(value), [4.0 * kl], rtol=1e-6)
    assert abs(4.0 * kl - 0.5232481) < 1e-6


def _softmax(logits):
    exp = np.exp(logits.astype("float64"))
    return exp / exp.sum(axis=-1, keepdims=True)


def test_kd_loss_scales_with_t_squared():
    teacher = np.array([[1.0, -2.0, 0.5]], dtype="float32")
    student = np.array([[0.2, 0.1, -0.3]], dtype="float32")
    for temperature in (1.0, 3.0, 10.0):
        softened_teacher = _softmax(teacher / temperature)
        softened_student = _softmax(student / temperature)
        kl = np.sum(
            softened_teacher * (np.log(softened_teacher) - np.log(softened_student)),
            axis=-1,
        )
        value = functional.kd_loss(teacher, student, temperature=temperature)
        np.testing.assert_allclose(value, temperature**2 * kl, rtol=1e-4)


def test_kd_loss_is_zero_when_student_matches_teacher():
    logits = np.array([[3.0, -1.0, 0.0], [0.0, 0.0, 9.0]], dtype="float32")
    np.testing.assert_allclose(
        functional.kd_loss(logits, logits, 4.0), [0, 0], atol=1e-6
    )


def test_soft_target_cross_entropy_by_hand():
    value = functional.soft_target_cross_entropy(TEACHER, STUDENT, temperature=2.0)
    # −T² · (1/4 · ln 1/2 + 3/4 · ln 1/2) = 4 ln 2
    np.testing.assert_allclose(value, [4.0 * LN2], rtol=1e-6)


def test_soft_target_cross_entropy_is_kd_plus_teacher_entropy():
    teacher_entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    kd = functional.kd_loss(TEACHER, STUDENT, 2.0)
    cross_entropy = functional.soft_target_cross_entropy(TEACHER, STUDENT, 2.0)
    np.testing.assert_allclose(cross_entropy, kd + 4.0 * teacher_entropy, rtol=1e-5)


def test_logit_mse_by_hand():
    value = functional.logit_mse(TEACHER, STUDENT)
    np.testing.assert_allclose(value, [(2.0 * LN3) ** 2 / 2.0], rtol=1e-6)


def test_hard_pseudo_label_cross_entropy_by_hand():
    # argmax of the teacher is class 1; −log softmax([0, 0])[1] = ln 2.
    value = functional.hard_pseudo_label_cross_entropy(TEACHER, STUDENT)
    np.testing.assert_allclose(value, [LN2], rtol=1e-6)


def test_label_cross_entropy_sparse_and_one_hot_agree():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype="float32")
    sparse = functional.label_cross_entropy(np.array([0, 2]), logits)
    one_hot = functional.label_cross_entropy(np.eye(3)[[0, 2]], logits)
    column = functional.label_cross_entropy(np.array([[0], [2]]), logits)
    expected = -np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(sparse, expected[[0, 1], [0, 2]], rtol=1e-6)
    np.testing.assert_allclose(one_hot, sparse, rtol=1e-6)
    np.testing.assert_allclose(column, sparse, rtol=1e-6)


@pytest.mark.tensorflow  # tf.GradientTape
@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda t, s: functional.kd_loss(t, s, 1.0),
        lambda t, s: functional.kd_loss(t, s, 4.0),
        lambda t, s: functional.soft_target_cross_entropy(t, s, 2.0),
        functional.hard_pseudo_label_cross_entropy,
    ],
)
def test_extreme_logits_give_finite_values_and_gradients(loss_fn):
    teacher = tf.constant([[1e3, -1e3, 0.0], [-1e3, 1e3, 1e3]])
    student = tf.Variable([[-1e3, 1e3, 0.0], [1e3, -1e3, -1e3]])
    with tf.GradientTape() as tape:
        value = loss_fn(teacher, student)
    gradient = tape.gradient(value, student)
    assert np.isfinite(value.numpy()).all()
    assert np.isfinite(gradient.numpy()).all()


def test_kd_loss_at_extreme_logits_by_hand():
    # p_t = [1, 0]; log p_s[0] = −2000 at T = 1, so KL = 2000.
    teacher = np.array([[1e3, -1e3]], dtype="float32")
    student = np.array([[-1e3, 1e3]], dtype="float32")
    np.testing.assert_allclose(functional.kd_loss(teacher, student, 1.0), [2000.0])


@pytest.mark.tensorflow  # tf.GradientTape
def test_no_gradient_flows_into_teacher_logits():
    teacher = tf.Variable([[1.0, 2.0, 3.0]])
    student = tf.Variable([[0.0, 0.0, 0.0]])
    with tf.GradientTape(persistent=True) as tape:
        value = functional.kd_loss(teacher, student, 2.0) + functional.logit_mse(
            teacher, student
        )
    assert tape.gradient(value, teacher) is None
    assert tape.gradient(value, student) is not None


@pytest.mark.parametrize("temperature", [0, -1.0])
def test_non_positive_temperature_is_refused(temperature):
    with pytest.raises(ValueError, match="`temperature` must be > 0"):
        functional.kd_loss(TEACHER, STUDENT, temperature)


def test_non_numeric_temperature_is_refused():
    with pytest.raises(TypeError, match="temperature='hot'"):
        functional.kd_loss(TEACHER, STUDENT, "hot")
