"""The Distiller with DKD, schedules of alpha and temperature, and save/load."""

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.distillation import schedules
from kdkeras.losses import functional


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 4)).astype("float32"), np.array([0, 1, 2, 0] * 2)


def test_dkd_gets_the_labels_and_the_temperature(dense_model):
    x, y = _data()
    teacher, student = dense_model(3, seed=1), dense_model(3, seed=2)
    teacher_logits, student_logits = teacher.predict(x, verbose=0), student(x)
    distiller = kdkeras.Distiller(teacher, student)
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.1),
        distillation_loss_fn="dkd",
        temperature=2.0,
        alpha=0.5,
    )
    logs = distiller.fit(x, y, batch_size=8, shuffle=False, verbose=0).history
    expected = np.mean(
        functional.dkd_loss(teacher_logits, student_logits, y, temperature=2.0)
    )
    np.testing.assert_allclose(logs["distillation_loss"][0], expected, rtol=1e-5)
    # The objective's temperature, given at call time; the loss keeps its own.
    assert distiller.temperature == 2.0
    assert distiller.distillation_loss_fn.temperature == 4.0


def test_scheduled_alpha_and_temperature_are_applied_and_logged(dense_model):
    x, y = _data()
    distiller = kdkeras.Distiller(dense_model(3, seed=1), dense_model(3, seed=2))
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.0),  # weights stay: losses comparable
        alpha=schedules.Linear(1.0, 0.0, steps=2),
        temperature=schedules.Cosine(4.0, 2.0, steps=2),
    )
    history = distiller.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    logs = history.history
    # Steps 0, 1 | 2, 3: alpha 1.0, 0.5 | 0, 0; temperature 4, 3 | 2, 2.
    np.testing.assert_allclose(logs["alpha"], [0.75, 0.0], rtol=1e-6)
    np.testing.assert_allclose(logs["temperature"], [3.5, 2.0], rtol=1e-6)
    # In epoch 2, loss = distillation loss at T = 2 (alpha 0).
    np.testing.assert_allclose(logs["loss"][1], logs["distillation_loss"][1], rtol=1e-5)
    teacher_logits = distiller.teacher.predict(x, verbose=0)
    student_logits = distiller.student.predict(x, verbose=0)
    expected = np.mean(functional.kd_loss(teacher_logits, student_logits, 2.0))
    np.testing.assert_allclose(logs["distillation_loss"][1], expected, rtol=1e-5)
    assert "alpha" not in distiller.evaluate(x, y, verbose=0, return_dict=True)


def test_unscheduled_distiller_logs_no_schedule(dense_model):
    x, y = _data()
    distiller = kdkeras.Distiller(dense_model(3, seed=1), dense_model(3, seed=2))
    distiller.compile(optimizer="sgd")
    logs = distiller.fit(x, y, verbose=0).history
    assert set(logs) == {"loss", "student_loss", "distillation_loss"}


def test_schedule_values_are_checked(dense_model):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match="schedule of `alpha` reaches a value"):
        distiller.compile(alpha=schedules.Linear(1.5, 0.0, steps=3))
    with pytest.raises(ValueError, match="schedule of `temperature` reaches a value"):
        distiller.compile(temperature=schedules.Linear(4.0, 0.0, steps=3))


def test_save_and_load_keeps_the_method_and_the_step(dense_model, tmp_path):
    x, y = _data()
    distiller = kdkeras.Distiller(
        [dense_model(3, seed=1), dense_model(3, seed=3)], dense_model(3, seed=2)
    )
    distiller.compile(
        optimizer="adam",
        distillation_loss_fn=kdkeras.losses.DKDLoss(
            temperature=3.0, non_target_weight=4.0
        ),
        alpha=schedules.Linear(0.9, 0.1, steps=10),
    )
    distiller.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.teacher, kdkeras.distillation.TeacherEnsemble)
    assert isinstance(restored.distillation_loss_fn, kdkeras.losses.DKDLoss)
    assert restored.distillation_loss_fn.non_target_weight == 4.0
    assert restored.alpha.get_config() == {"start": 0.9, "end": 0.1, "steps": 10}
    assert int(keras.ops.convert_to_numpy(restored._step)) == 2
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6
    )
    restored.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert int(keras.ops.convert_to_numpy(restored._step)) == 4
