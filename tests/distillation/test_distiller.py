import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kdkeras
from kdkeras import losses


def _softmax(logits):
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


def _log_softmax(logits):
    return np.log(_softmax(logits))


def _compiled(teacher, student, **kwargs):
    distiller = kdkeras.Distiller(teacher=teacher, student=student)
    kwargs.setdefault("optimizer", keras.optimizers.SGD(0.1))
    distiller.compile(**kwargs)
    return distiller


def test_reported_loss_is_the_hand_computed_objective(dense_model):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 4)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    teacher, student = dense_model(3, seed=1), dense_model(3, seed=2)
    alpha, temperature = 0.3, 2.5
    teacher_logits = x @ teacher.get_weights()[0] + teacher.get_weights()[1]
    student_logits = x @ student.get_weights()[0] + student.get_weights()[1]
    student_loss = -_log_softmax(student_logits)[np.arange(6), y].mean()
    teacher_probs = _softmax(teacher_logits / temperature)
    kl = np.sum(
        teacher_probs
        * (
            _log_softmax(teacher_logits / temperature)
            - _log_softmax(student_logits / temperature)
        ),
        axis=-1,
    ).mean()
    distiller = _compiled(teacher, student, alpha=alpha, temperature=temperature)
    history = distiller.fit(x, y, batch_size=6, epochs=1, shuffle=False, verbose=0)
    logs = {key: values[0] for key, values in history.history.items()}
    np.testing.assert_allclose(logs["student_loss"], student_loss, rtol=1e-5)
    np.testing.assert_allclose(
        logs["distillation_loss"], temperature**2 * kl, rtol=1e-4
    )
    np.testing.assert_allclose(
        logs["loss"],
        alpha * student_loss + (1 - alpha) * temperature**2 * kl,
        rtol=1e-5,
    )


def test_keras_kl_divergence_gets_softmax_and_t_squared(small_cnn, digits):
    x, y = digits[0][:64], digits[1][:64]
    results = []
    for loss_fn in (keras.losses.KLDivergence(), "kl_divergence", "kd"):
        distiller = _compiled(
            small_cnn(seed=1),
            small_cnn(filters=4, seed=2),
            distillation_loss_fn=loss_fn,
            temperature=4,
        )
        history = distiller.fit(x, y, batch_size=64, shuffle=False, verbose=0)
        results.append(history.history["distillation_loss"][0])
    np.testing.assert_allclose(results[0], results[2], rtol=1e-4)
    np.testing.assert_allclose(results[1], results[2], rtol=1e-4)


def test_softmax_teacher_is_detected_and_equals_its_logits(small_cnn, digits):
    x, y = digits[0][:64], digits[1][:64]
    logits_teacher = small_cnn(seed=1)
    softmax_teacher = small_cnn(seed=1, activation="softmax")
    softmax_teacher.set_weights(logits_teacher.get_weights())
    losses_seen = []
    for teacher in (logits_teacher, softmax_teacher):
        distiller = _compiled(teacher, small_cnn(filters=4, seed=2))
        expected_kind = "probabilities" if teacher is softmax_teacher else "logits"
        assert distiller._teacher_output_kind == expected_kind
        history = distiller.fit(x, y, batch_size=64, shuffle=False, verbose=0)
        losses_seen.append(history.history["distillation_loss"][0])
    np.testing.assert_allclose(losses_seen[0], losses_seen[1], rtol=1e-4)


def test_declared_teacher_outputs_override_detection(dense_model):
    teacher = dense_model(3, activation="softmax")
    distiller = kdkeras.Distiller(teacher, dense_model(3), teacher_outputs="logits")
    assert distiller._teacher_output_kind == "logits"


def test_alpha_one_is_plain_training_of_the_student(small_cnn, digits):
    x, y = digits[0][:256], digits[1][:256]
    plain = small_cnn(filters=4, seed=3)
    plain.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    distilled = small_cnn(filters=4, seed=3)
    distiller = kdkeras.Distiller(small_cnn(seed=1), distilled)
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.05),
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        alpha=1.0,
    )
    plain.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    distiller.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for plain_weight, distilled_weight in zip(
        plain.get_weights(), distilled.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(plain_weight, distilled_weight)


def test_student_batch_norm_updates_and_teacher_stays_frozen(small_cnn, digits):
    x, y = digits
    teacher, student = small_cnn(seed=1), small_cnn(filters=4, seed=2)
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    student_moving_mean = keras.ops.convert_to_numpy(
        student.layers[1].moving_mean
    ).copy()
    distiller = _compiled(teacher, student)
    distiller.fit(x[:128], y[:128], batch_size=32, verbose=0)
    assert not np.allclose(
        keras.ops.convert_to_numpy(student.layers[1].moving_mean), student_moving_mean
    )
    for before, after in zip(teacher_weights, teacher.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert not teacher.trainable
    assert distiller.trainable_weights == student.trainable_weights


def test_call_passes_training_to_the_student():
    ones = np.ones((1, 1000), dtype="float32")
    student = keras.Sequential([keras.Input((1000,)), keras.layers.Dropout(0.5)])
    distiller = kdkeras.Distiller(teacher=None, student=student)
    np.testing.assert_array_equal(distiller(ones, training=False), ones)
    # In training, `call` returns the logits of both models (here, no teacher).
    outputs = distiller(ones, training=True)
    assert set(outputs) == {"student_logits"}
    assert (np.asarray(outputs["student_logits"]) == 0).any()


def test_call_in_training_gives_both_models_the_same_augmented_batch(dense_model):
    teacher, student = dense_model(3, seed=1), dense_model(3, seed=2)
    distiller = kdkeras.Distiller(teacher, student, augmentation=NegateInTraining())
    x = np.arange(8, dtype="float32").reshape(2, 4)
    outputs = distiller(x, training=True)
    np.testing.assert_allclose(outputs["student_logits"], student(-x), rtol=1e-6)
    np.testing.assert_allclose(outputs["teacher_logits"], teacher(-x), rtol=1e-6)
    np.testing.assert_allclose(distiller(x), student(x), rtol=1e-6)


def test_sparse_and_one_hot_labels_give_the_same_losses(small_cnn, digits):
    x, y = digits[0][:64], digits[1][:64]
    logs = []
    for labels in (y, np.eye(10, dtype="float32")[y]):
        distiller = _compiled(small_cnn(seed=1), small_cnn(filters=4, seed=2))
        history = distiller.fit(x, labels, batch_size=64, shuffle=False, verbose=0)
        logs.append(history.history)
    for key in ("loss", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(logs[0][key], logs[1][key], rtol=1e-5)


def test_sample_weight_weighs_each_term(dense_model):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.integers(0, 3, size=8)
    weights = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype="float32")
    weighted = _compiled(dense_model(3, seed=1), dense_model(3, seed=2))
    history = weighted.fit(
        x, y, sample_weight=weights, batch_size=8, shuffle=False, verbose=0
    ).history
    half = _compiled(dense_model(3, seed=1), dense_model(3, seed=2))
    half_history = half.fit(x[:4], y[:4], batch_size=4, shuffle=False, verbose=0)
    # sum_over_batch_size: the zero-weighted half still counts in the divisor.
    for key in ("student_loss", "distillation_loss", "loss"):
        np.testing.assert_allclose(
            history[key][0], half_history.history[key][0] / 2, rtol=1e-5
        )


def test_evaluate_scores_the_student_alone(small_cnn, digits):
    x, y = digits
    distiller = _compiled(
        small_cnn(seed=1), small_cnn(filters=4, seed=2), metrics=["accuracy"]
    )
    distiller.fit(x[:128], y[:128], verbose=0)
    results = distiller.evaluate(x[:200], y[:200], verbose=0, return_dict=True)
    assert set(results) == {"loss", "accuracy"}
    student = distiller.student
    student.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    expected = student.evaluate(x[:200], y[:200], verbose=0, return_dict=True)
    np.testing.assert_allclose(results["loss"], expected["loss"], rtol=1e-5)
    np.testing.assert_allclose(results["accuracy"], expected["accuracy"])


def test_dataset_validation_data_and_callbacks(small_cnn, digits, tmp_path):
    x, y = digits
    train = tf.data.Dataset.from_tensor_slices((x[:256], y[:256])).batch(32)
    validation = tf.data.Dataset.from_tensor_slices((x[256:384], y[256:384])).batch(64)
    distiller = _compiled(
        small_cnn(seed=1), small_cnn(filters=4, seed=2), metrics=["accuracy"]
    )
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=1, restore_best_weights=True
        ),
        keras.callbacks.ModelCheckpoint(
            str(tmp_path / "best.keras"), save_best_only=True
        ),
        keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs")),
        keras.callbacks.BackupAndRestore(backup_dir=str(tmp_path / "backup")),
    ]
    history = distiller.fit(
        train, validation_data=validation, epochs=3, callbacks=callbacks, verbose=0
    )
    assert {
        "loss",
        "student_loss",
        "distillation_loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
    } <= set(history.history)
    assert (tmp_path / "best.keras").exists()
    assert any((tmp_path / "logs").rglob("events.out.tfevents.*"))
    restored = keras.saving.load_model(tmp_path / "best.keras")
    assert isinstance(restored, kdkeras.Distiller)


def test_jit_compile(small_cnn, digits):
    """XLA-compiled steps give the losses and weights of the uncompiled ones."""
    x, y = digits
    results = []
    for jit_compile in (True, False):
        distiller = _compiled(
            small_cnn(seed=1), small_cnn(filters=4, seed=2), jit_compile=jit_compile
        )
        assert distiller.jit_compile is jit_compile
        history = distiller.fit(
            x[:128], y[:128], batch_size=32, epochs=2, shuffle=False, verbose=0
        )
        results.append((history.history["loss"], distiller.student.get_weights()))
    (jit_losses, jit_weights), (losses, weights) = results
    assert np.isfinite(jit_losses).all() and jit_losses[1] < jit_losses[0]
    np.testing.assert_allclose(jit_losses, losses, rtol=1e-4, atol=1e-5)
    for jit_weight, weight in zip(jit_weights, weights, strict=True):
        np.testing.assert_allclose(jit_weight, weight, rtol=1e-3, atol=1e-4)


def test_save_and_load_without_custom_objects(small_cnn, digits, tmp_path):
    x, y = digits
    distiller = _compiled(
        small_cnn(seed=1, activation="softmax"),
        small_cnn(filters=4, seed=2),
        distillation_loss_fn=losses.KDLoss(temperature=5.0),
        alpha=0.25,
        metrics=["accuracy"],
    )
    distiller.fit(x[:128], y[:128], verbose=0)
    path = tmp_path / "distiller.keras"
    distiller.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        restored.predict(x, verbose=0), distiller.predict(x, verbose=0)
    )
    assert restored.alpha == 0.25 and restored.temperature == 5.0
    assert restored._teacher_output_kind == "probabilities"
    assert json.dumps(restored.get_config()) == json.dumps(distiller.get_config())
    history = restored.fit(x[:64], y[:64], verbose=0)  # compiled on load
    assert "distillation_loss" in history.history


def test_student_saves_as_a_plain_keras_model(small_cnn, digits, tmp_path):
    x, y = digits
    distiller = _compiled(small_cnn(seed=1), small_cnn(filters=4, seed=2))
    distiller.fit(x[:64], y[:64], verbose=0)
    path = tmp_path / "student.keras"
    distiller.student.save(path)
    np.save(tmp_path / "x.npy", x[:16])
    np.save(tmp_path / "expected.npy", distiller.student.predict(x[:16], verbose=0))
    script = textwrap.dedent(
        f"""
        import sys, keras, numpy as np
        model = keras.saving.load_model({str(path)!r})
        assert not any(name.startswith("kdkeras") for name in sys.modules)
        got = model.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0)
        np.testing.assert_allclose(
            got, np.load({str(tmp_path / "expected.npy")!r}), atol=1e-6)
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)


def test_offline_training_matches_online(small_cnn, digits):
    x, y = digits[0][:64], digits[1][:64]
    teacher = small_cnn(seed=1)
    online = _compiled(teacher, small_cnn(filters=4, seed=2))
    online_history = online.fit(x, y, batch_size=64, shuffle=False, verbose=0)
    teacher_logits = teacher.predict(x, verbose=0)
    offline = _compiled(None, small_cnn(filters=4, seed=2))
    offline_history = offline.fit(
        x, (y, teacher_logits), batch_size=64, shuffle=False, verbose=0
    )
    for key in ("loss", "student_loss", "distillation_loss"):
        np.testing.assert_allclose(
            online_history.history[key], offline_history.history[key], rtol=1e-5
        )
    # Offline evaluation takes plain labels.
    assert set(offline.evaluate(x, y, verbose=0, return_dict=True)) == {"loss"}


def test_class_weight_equals_the_matching_sample_weight(dense_model):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 4)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    class_weight = {0: 2.0, 1: 0.5, 2: 1.0}
    by_class = _compiled(dense_model(3, seed=1), dense_model(3, seed=2))
    by_sample = _compiled(dense_model(3, seed=1), dense_model(3, seed=2))
    class_history = by_class.fit(
        x, y, class_weight=class_weight, batch_size=8, shuffle=False, verbose=0
    )
    sample_weight = np.array([class_weight[label] for label in y])
    sample_history = by_sample.fit(
        x, y, sample_weight=sample_weight, batch_size=8, shuffle=False, verbose=0
    )
    np.testing.assert_allclose(
        class_history.history["loss"], sample_history.history["loss"], rtol=1e-6
    )


def _rgb_teacher(size, seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10),
        ]
    )


def test_teacher_and_student_see_different_views(small_cnn, digits, tmp_path):
    x, y = digits[0][:64] * 255.0, digits[1][:64]
    teacher = _rgb_teacher(16, seed=1)
    view = kdkeras.layers.ImageView(size=(16, 16), channels=3, preprocessing="unit")
    distiller = kdkeras.Distiller(
        teacher,
        small_cnn(filters=4, seed=2),
        teacher_view=view,
        student_view=kdkeras.layers.ImageView(preprocessing="unit"),
    )
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    history = distiller.fit(x, y, batch_size=64, shuffle=False, verbose=0).history
    # The same step offline, with the teacher's logits on its own view.
    teacher_logits = teacher.predict(np.asarray(view(x)), verbose=0)
    offline = kdkeras.Distiller(None, small_cnn(filters=4, seed=2))
    offline.compile(optimizer=keras.optimizers.SGD(0.1))
    expected = offline.fit(
        x / 255.0, (y, teacher_logits), batch_size=64, shuffle=False, verbose=0
    ).history
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-5)
    path = tmp_path / "views.keras"
    distiller.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        restored.predict(x, verbose=0), distiller.predict(x, verbose=0)
    )


class NegateInTraining(keras.layers.Layer):
    """A deterministic 'augmentation': negates images in training only."""

    def call(self, inputs, training=None):
        return -inputs if training else inputs


def test_augmentation_is_shared_by_teacher_and_student(small_cnn, digits):
    x, y = digits[0][:64], digits[1][:64]
    augmented = kdkeras.Distiller(
        small_cnn(seed=1), small_cnn(filters=4, seed=2), augmentation=NegateInTraining()
    )
    augmented.compile(optimizer=keras.optimizers.SGD(0.1))
    plain = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4, seed=2))
    plain.compile(optimizer=keras.optimizers.SGD(0.1))
    got = augmented.fit(x, y, batch_size=64, shuffle=False, verbose=0).history
    expected = plain.fit(-x, y, batch_size=64, shuffle=False, verbose=0).history
    for key in ("loss", "distillation_loss"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5)


def test_views_must_be_layers(dense_model):
    with pytest.raises(TypeError, match="`teacher_view` must be a Keras layer"):
        kdkeras.Distiller(dense_model(3), dense_model(3), teacher_view=lambda x: x)
