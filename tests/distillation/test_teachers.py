import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.distillation import TeacherEnsemble, average_teacher_logits


def test_ensemble_is_the_weighted_mean_of_logits(dense_model):
    x = np.arange(8, dtype="float32").reshape(2, 4) / 8
    first, second = dense_model(3, seed=1), dense_model(3, seed=2, activation="softmax")
    ensemble = TeacherEnsemble([first, second], weights=[3, 1])
    # The softmax teacher's probabilities enter as log p.
    expected = 0.75 * np.asarray(first(x)) + 0.25 * np.log(np.asarray(second(x)))
    np.testing.assert_allclose(np.asarray(ensemble(x)), expected, rtol=1e-5)
    assert not first.trainable and not second.trainable


def test_ensemble_saves_and_reloads(dense_model, tmp_path):
    x = np.ones((2, 4), "float32")
    ensemble = TeacherEnsemble([dense_model(3, seed=1), dense_model(3, seed=2)])
    path = tmp_path / "ensemble.keras"
    ensemble.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(restored(x), ensemble(x), rtol=1e-6)


def test_ensemble_errors(dense_model):
    with pytest.raises(TypeError, match="`teachers` must be a list of Keras models"):
        TeacherEnsemble(dense_model(3))
    with pytest.raises(ValueError, match="`weights` must be 2 finite numbers"):
        TeacherEnsemble([dense_model(3), dense_model(3)], weights=[1])
    with pytest.raises(ValueError, match="≥ 0 with a positive sum"):
        TeacherEnsemble([dense_model(3), dense_model(3)], weights=[1, -1])
    with pytest.raises(ValueError, match="same number of classes"):
        TeacherEnsemble([dense_model(3), dense_model(4)])


def test_average_teacher_logits():
    first = np.array([[1.0, 2.0]], "float32")
    second = np.array([[3.0, -2.0]], "float32")
    np.testing.assert_allclose(average_teacher_logits([first, second]), [[2.0, 0.0]])
    np.testing.assert_allclose(
        average_teacher_logits([first, second], weights=[1, 3]), [[2.5, -1.0]]
    )
    with pytest.raises(ValueError, match="arrays of one shape"):
        average_teacher_logits([first, np.zeros((2, 2))])


def test_distiller_with_a_list_of_teachers_equals_offline_on_their_mean(
    dense_model, small_cnn, digits
):
    x, y = digits[0][:64], digits[1][:64]
    teachers = [small_cnn(seed=1), small_cnn(seed=3, activation="softmax")]
    online = kdkeras.Distiller(teachers, small_cnn(filters=4, seed=2))
    online.compile(optimizer=keras.optimizers.SGD(0.1), alpha=0.2, temperature=2.0)
    got = online.fit(x, y, batch_size=64, shuffle=False, verbose=0).history
    mean_logits = average_teacher_logits(
        [
            teachers[0].predict(x, verbose=0),
            np.log(teachers[1].predict(x, verbose=0)),
        ]
    )
    offline = kdkeras.Distiller(None, small_cnn(filters=4, seed=2))
    offline.compile(optimizer=keras.optimizers.SGD(0.1), alpha=0.2, temperature=2.0)
    expected = offline.fit(
        x, (y, mean_logits), batch_size=64, shuffle=False, verbose=0
    ).history
    np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-4)
