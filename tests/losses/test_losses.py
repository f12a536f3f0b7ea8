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
