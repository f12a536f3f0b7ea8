import json

import keras
import numpy as np
import pytest

from kdkeras import losses
from kdkeras.losses import functional

TEACHER = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 1.0]], dtype="float32")
STUDENT = np.array([[0.5, 0.5, 0.0], [1.0, -1.0, 2.0]], dtype="float32")

CLASSES = [
    (losses.KDLoss, {"temperature": 3.0}),
    (losses.SoftTargetCrossEntropy, {"temperature": 2.0}),
    (losses.LogitMSE, {}),
    (losses.HardPseudoLabelCrossEntropy, {}),
]


def _per_sample(loss):
    if isinstance(loss, losses.KDLoss):
        return functional.kd_loss(TEACHER, STUDENT, loss.temperature)
    if isinstance(loss, losses.SoftTargetCrossEntropy):
        return functional.soft_target_cross_entropy(TEACHER, STUDENT, loss.temperature)
    if isinstance(loss, losses.LogitMSE):
        return functional.logit_mse(TEACHER, STUDENT)
    return functional.hard_pseudo_label_cross_entropy(TEACHER, STUDENT)


@pytest.mark.parametrize("cls, kwargs", CLASSES)
def test_class_reduces_the_function_with_sample_weights(cls, kwargs):
    loss = cls(**kwargs)
    per_sample = np.asarray(_per_sample(loss))
    np.testing.assert_allclose(loss(TEACHER, STUDENT), per_sample.mean(), rtol=1e-6)
    # sum_over_batch_size: Σ w·l / N, here (1·l₀ + 0·l₁) / 2.
    weighted = loss(TEACHER, STUDENT, sample_weight=np.array([1.0, 0.0]))
    np.testing.assert_allclose(weighted, per_sample[0] / 2.0, rtol=1e-6)


@pytest.mark.parametrize("cls, kwargs", CLASSES)
def test_config_round_trip(cls, kwargs):
    loss = cls(**kwargs, name="custom")
    config = loss.get_config()
    assert {key: config[key] for key in kwargs} == kwargs
    rebuilt = cls.from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"].startswith("kdkeras>")
    restored = keras.saving.deserialize_keras_object(serialized)
    np.testing.assert_allclose(restored(TEACHER, STUDENT), loss(TEACHER, STUDENT))


def test_label_cross_entropy_matches_keras_sparse_cross_entropy():
    labels = np.array([0, 2])
    expected = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        labels, STUDENT
    )
    np.testing.assert_allclose(
        losses.LabelCrossEntropy()(labels, STUDENT), expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.LabelCrossEntropy()(np.eye(3)[labels], STUDENT), expected, rtol=1e-6
    )


def test_model_compiled_with_kdkeras_loss_saves_and_loads(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=losses.KDLoss(temperature=2.5))
    model.fit(STUDENT, TEACHER, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.loss, losses.KDLoss)
    assert restored.loss.temperature == 2.5


def _kd_by_hand(teacher, student, temperature):
    """`T² · Σ p_t (log p_t − log p_s)` per sample, in NumPy."""

    def log_softmax(z):
        z = z / temperature
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    log_t, log_s = log_softmax(teacher), log_softmax(student)
    return temperature**2 * (np.exp(log_t) * (log_t - log_s)).sum(axis=-1)


def test_temperature_given_at_call_time_replaces_the_losss_own():
    loss = losses.KDLoss(temperature=1.0)
    at_3 = _kd_by_hand(TEACHER, STUDENT, 3.0)
    np.testing.assert_allclose(
        loss(TEACHER, STUDENT, temperature=3.0), at_3.mean(), rtol=1e-5
    )
    # A scalar tensor (a schedule's value) works the same; weights still apply.
    weighted = loss(
        TEACHER,
        STUDENT,
        sample_weight=np.array([1.0, 0.0]),
        temperature=keras.ops.convert_to_tensor(3.0),
    )
    np.testing.assert_allclose(weighted, at_3[0] / 2.0, rtol=1e-5)
    # The loss is not changed: without a temperature, its own is used.
    assert loss.temperature == 1.0
    np.testing.assert_allclose(
        loss(TEACHER, STUDENT), _kd_by_hand(TEACHER, STUDENT, 1.0).mean(), rtol=1e-5
    )


def test_dkd_takes_the_temperature_at_call_time():
    labels = np.array([0, 1])
    loss = losses.DKDLoss(temperature=4.0, non_target_weight=2.0)
    expected = functional.dkd_loss(
        TEACHER, STUDENT, labels, temperature=2.0, non_target_weight=2.0
    )
    np.testing.assert_allclose(
        loss((TEACHER, labels), STUDENT, temperature=2.0),
        np.mean(expected),
        rtol=1e-5,
    )
    assert loss.temperature == 4.0


def test_a_loss_without_temperature_refuses_one():
    with pytest.raises(ValueError, match="LogitMSE takes no temperature"):
        losses.LogitMSE()(TEACHER, STUDENT, temperature=2.0)
