"""DKD (Zhao et al., 2022): hand-computed values on a 2×3 batch."""

import math

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.losses import functional

# Two examples, three classes; targets 0 and 2.
TEACHER = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0]], dtype="float32")
STUDENT = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.5]], dtype="float32")
LABELS = np.array([0, 2])


def _softmax(row):
    exp = [math.exp(value) for value in row]
    return [value / sum(exp) for value in exp]


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))


def _dkd_by_hand(teacher, student, target, temperature, alpha, beta):
    p_t = _softmax([value / temperature for value in teacher])
    p_s = _softmax([value / temperature for value in student])
    tckd = _kl([p_t[target], 1 - p_t[target]], [p_s[target], 1 - p_s[target]])
    others = [c for c in range(len(teacher)) if c != target]
    q_t = [p_t[c] / (1 - p_t[target]) for c in others]
    q_s = [p_s[c] / (1 - p_s[target]) for c in others]
    return temperature**2 * (alpha * tckd + beta * _kl(q_t, q_s))


def test_dkd_by_hand_first_example():
    # T = 1, example 0: p_t = softmax(2, 1, 0), p_s = 1/3 each.
    p_t = [math.exp(2), math.exp(1), 1.0]
    p_t = [value / sum(p_t) for value in p_t]
    tckd = p_t[0] * math.log(p_t[0] / (1 / 3)) + (1 - p_t[0]) * math.log(
        (1 - p_t[0]) / (2 / 3)
    )
    # Non-target: q_t = softmax(1, 0) = [e/(e+1), 1/(e+1)], q_s = [1/2, 1/2].
    q_t = [math.e / (math.e + 1), 1 / (math.e + 1)]
    nckd = sum(q * math.log(q / 0.5) for q in q_t)
    expected = 1.0 * tckd + 8.0 * nckd
    value = functional.dkd_loss(TEACHER[:1], STUDENT[:1], LABELS[:1], temperature=1.0)
    np.testing.assert_allclose(np.asarray(value), [expected], rtol=1e-5)


@pytest.mark.parametrize("temperature, alpha, beta", [(1.0, 1.0, 8.0), (4.0, 0.5, 2.0)])
def test_dkd_matches_the_definition_on_a_batch(temperature, alpha, beta):
    expected = [
        _dkd_by_hand(TEACHER[i], STUDENT[i], LABELS[i], temperature, alpha, beta)
        for i in range(2)
    ]
    value = functional.dkd_loss(
        TEACHER,
        STUDENT,
        LABELS,
        temperature,
        target_weight=alpha,
        non_target_weight=beta,
    )
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-5)
    one_hot = np.eye(3, dtype="float32")[LABELS]
    value = functional.dkd_loss(
        TEACHER,
        STUDENT,
        one_hot,
        temperature,
        target_weight=alpha,
        non_target_weight=beta,
    )
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-5)


def test_dkd_with_weights_one_and_teacher_weight_is_kd():
    """KD = TCKD + (1 − p_t[g]) · NCKD: with β = 1 − p_t[g] DKD equals KD."""
    teacher, student, labels = TEACHER[:1], STUDENT[:1], LABELS[:1]
    p_target = _softmax(teacher[0] / 2.0)[0]
    dkd = functional.dkd_loss(
        teacher, student, labels, 2.0, target_weight=1.0, non_target_weight=1 - p_target
    )
    kd = functional.kd_loss(teacher, student, temperature=2.0)
    np.testing.assert_allclose(np.asarray(dkd), np.asarray(kd), rtol=1e-5)


def test_dkd_is_zero_for_equal_logits_and_finite_for_extreme_ones():
    value = functional.dkd_loss(TEACHER, TEACHER, LABELS, temperature=4.0)
    np.testing.assert_allclose(np.asarray(value), [0.0, 0.0], atol=1e-6)
    extreme = np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 1e3]], dtype="float32")
    value = functional.dkd_loss(extreme, -extreme, LABELS, temperature=1.0)
    assert np.isfinite(np.asarray(value)).all()


def test_dkd_class_reduces_with_sample_weights_and_round_trips():
    loss = kdkeras.losses.DKDLoss(
        temperature=4.0, target_weight=0.5, non_target_weight=2
    )
    per_example = [
        _dkd_by_hand(TEACHER[i], STUDENT[i], LABELS[i], 4.0, 0.5, 2.0) for i in range(2)
    ]
    value = loss((TEACHER, LABELS), STUDENT, sample_weight=np.array([1.0, 3.0]))
    np.testing.assert_allclose(
        float(value), (per_example[0] + 3 * per_example[1]) / 2, rtol=1e-5
    )
    config = keras.saving.serialize_keras_object(loss)
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, kdkeras.losses.DKDLoss)
    assert restored.get_config() == loss.get_config()
    assert kdkeras.losses.get("dkd", temperature=2.0).temperature == 2.0


@pytest.mark.parametrize("argument", ["target_weight", "non_target_weight"])
def test_dkd_weights_must_be_non_negative(argument):
    with pytest.raises(
        ValueError, match=rf"`{argument}` must be a finite number in \[0, inf\]"
    ):
        kdkeras.losses.DKDLoss(**{argument: -1.0})
    with pytest.raises(ValueError, match=f"Received: {argument}=inf"):
        kdkeras.losses.DKDLoss(**{argument: float("inf")})
