"""Logit-standardized KD (Sun et al., 2024) against values computed by hand."""

import keras
import numpy as np
import pytest

from kdkeras import losses


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_standardize_by_hand():
    # [1, 2, 3]: mean 2, sample std 1 -> [-1, 0, 1].
    # [0, 0, 3]: mean 1, sample std sqrt((1 + 1 + 4) / 2) = sqrt(3).
    standardized = keras.ops.convert_to_numpy(
        losses.standardize_logits(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]]))
    )
    root3 = np.sqrt(3.0)
    np.testing.assert_allclose(
        standardized, [[-1, 0, 1], [-1 / root3, -1 / root3, 2 / root3]], rtol=1e-5
    )


def test_loss_by_hand_on_a_2x3_batch():
    teacher = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 2.0]], "float32")
    student = np.array([[0.0, 0.0, 3.0], [1.0, 1.0, 1.5]], "float32")
    temperature = 2.0
    # By hand: z-scores, then T² · KL(softmax(Zt / T) ‖ softmax(Zs / T)).
    zt = np.array([[-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]])  # row 2: mean 2, std 2
    r3 = np.sqrt(3.0)
    # Row 2 of the student: mean 7/6, deviations (-1/6, -1/6, 1/3), sample
    # std sqrt((1/36 + 1/36 + 1/9) / 2) = sqrt(1/12).
    zs = np.array(
        [[-1 / r3, -1 / r3, 2 / r3], [-0.5 * r3 / 1.5, -0.5 * r3 / 1.5, r3 / 1.5]]
    )
    pt, ps = softmax(zt / temperature), softmax(zs / temperature)
    expected = temperature**2 * np.sum(pt * np.log(pt / ps), axis=-1)
    computed = keras.ops.convert_to_numpy(
        losses.standardized_kd_loss(teacher, student, temperature)
    )
    np.testing.assert_allclose(computed, expected, rtol=1e-5)
    loss = losses.StandardizedKDLoss(temperature=temperature)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loss(teacher, student)), expected.mean(), rtol=1e-5
    )


def test_invariant_to_shift_and_scale_of_either_model():
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(4, 10)).astype("float32")
    student = rng.normal(size=(4, 10)).astype("float32")
    base = keras.ops.convert_to_numpy(losses.standardized_kd_loss(teacher, student))
    moved = keras.ops.convert_to_numpy(
        losses.standardized_kd_loss(3.0 * teacher + 7.0, 0.5 * student - 2.0)
    )
    np.testing.assert_allclose(moved, base, rtol=1e-4, atol=1e-6)


def test_registered_and_serializable():
    loss = losses.get("kd_standardized", temperature=3.0)
    assert isinstance(loss, losses.StandardizedKDLoss) and loss.temperature == 3.0
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert (
        isinstance(restored, losses.StandardizedKDLoss) and restored.temperature == 3.0
    )


def test_shapes_must_match():
    with pytest.raises(ValueError, match="teacher_logits"):
        losses.standardized_kd_loss(np.zeros((2, 3)), np.zeros((2, 4)))
