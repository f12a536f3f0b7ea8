"""`DistillationObjective`: the one owner of the temperature, passed to the
loss at call time (a schedule's value step by step, the loss never copied)."""

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras import losses
from kdkeras.distillation import schedules
from kdkeras.distillation.objective import DistillationObjective
from kdkeras.losses import functional

TEACHER = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 1.0]], dtype="float32")
STUDENT = np.array([[0.5, 0.5, 0.0], [1.0, -1.0, 2.0]], dtype="float32")


class RecordingKD(losses.KDLoss):
    """KD that records which instance got which temperature."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def call(self, y_true, y_pred, temperature=None):
        self.calls.append((id(self), float(keras.ops.convert_to_numpy(temperature))))
        return super().call(y_true, y_pred, temperature=temperature)


def _kd(temperature):
    return float(np.mean(functional.kd_loss(TEACHER, STUDENT, temperature)))


def test_the_objectives_temperature_reaches_the_loss_at_call_time():
    loss = losses.KDLoss(temperature=1.0)
    objective = DistillationObjective(distillation_loss_fn=loss, temperature=4.0)
    assert objective.temperature == 4.0 and objective.distillation_loss_fn is loss
    np.testing.assert_allclose(
        objective.distillation_loss(TEACHER, STUDENT), _kd(4.0), rtol=1e-6
    )
    assert loss.temperature == 1.0  # the loss's own, for plain Keras use


def test_without_a_temperature_the_loss_instances_own_is_the_objectives():
    objective = DistillationObjective(distillation_loss_fn=losses.KDLoss(2.0))
    assert objective.temperature == 2.0
    assert DistillationObjective(distillation_loss_fn="kd").temperature == 3.0
    assert DistillationObjective(distillation_loss_fn="logit_mse").temperature is None


def test_a_schedule_needs_no_loss_set_to_its_first_value():
    loss = losses.DKDLoss()  # its own temperature, 4, is not the schedule's
    objective = DistillationObjective(
        distillation_loss_fn=loss, temperature=schedules.Linear(2.0, 1.0, steps=2)
    )
    labels = np.array([0, 1])
    _, temperature = objective.at(1)
    value = objective.distillation_loss(
        TEACHER, STUDENT, labels=labels, temperature=temperature
    )
    expected = functional.dkd_loss(TEACHER, STUDENT, labels, temperature=1.5)
    np.testing.assert_allclose(value, np.mean(expected), rtol=1e-6)
    assert loss.temperature == 4.0


def test_a_scheduled_temperature_reaches_the_one_loss_every_step(dense_model):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)).astype("float32"), np.array([0, 1, 2, 0] * 2)
    loss = RecordingKD()
    distiller = kdkeras.Distiller(dense_model(3, seed=1), dense_model(3, seed=2))
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.0),
        distillation_loss_fn=loss,
        temperature=schedules.Linear(4.0, 2.0, steps=2),
        run_eagerly=True,
    )
    distiller.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    # Steps 0 to 3: T = 4, 3, 2, 2, all given to the compiled instance.
    assert loss.calls == [(id(loss), 4.0), (id(loss), 3.0), (id(loss), 2.0)] + [
        (id(loss), 2.0)
    ]
    assert distiller.distillation_loss_fn is loss and loss.temperature == 1.0


def test_a_feature_method_is_not_a_distillation_loss(dense_model):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match=r"Hint is a feature distillation method"):
        distiller.compile(distillation_loss_fn="hint")
    with pytest.raises(ValueError, match=r"AttentionTransfer is a feature"):
        distiller.compile(distillation_loss_fn=losses.AttentionTransfer("t", "s"))
