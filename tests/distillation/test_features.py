"""The Distiller with FitNets hints and attention transfer."""

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.distillation import AttentionTransfer, Hint
from kdkeras.losses import feature_losses


def _cnn(filters, seed, name):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(inputs)
    x = keras.layers.ReLU(name=f"{name}_features")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10, name=f"{name}_logits")(x))


def _distiller(**kwargs):
    teacher, student = _cnn(6, 1, "teacher"), _cnn(3, 2, "student")
    features = [
        Hint("teacher_features", "student_features", weight=0.5),
        AttentionTransfer("teacher_features", "student_features", weight=100.0),
    ]
    distiller = kdkeras.Distiller(teacher, student, features=features, **kwargs)
    distiller.compile(optimizer=keras.optimizers.SGD(0.05), alpha=0.5)
    return distiller


def test_feature_loss_is_the_hand_computed_weighted_sum(digits):
    x, y = digits[0][:16], digits[1][:16]
    distiller = _distiller()
    teacher_maps = keras.Model(
        distiller.teacher.inputs, distiller.teacher.get_layer("teacher_features").output
    ).predict(x, verbose=0)
    student_maps = keras.Model(
        distiller.student.inputs, distiller.student.get_layer("student_features").output
    ).predict(x, verbose=0)
    projection = distiller.features[0].projection
    # The 1×1 projection by hand: a matrix product over channels.
    kernel = keras.ops.convert_to_numpy(projection.kernel)[0, 0]
    hint = np.mean((student_maps @ kernel - teacher_maps) ** 2)
    attention = np.mean(
        feature_losses.attention_transfer_loss(teacher_maps, student_maps)
    )
    logs = distiller.fit(x, y, batch_size=16, shuffle=False, verbose=0).history
    np.testing.assert_allclose(
        logs["feature_loss"][0], 0.5 * hint + 100.0 * attention, rtol=1e-4
    )
    np.testing.assert_allclose(
        logs["loss"][0],
        0.5 * logs["student_loss"][0]
        + 0.5 * logs["distillation_loss"][0]
        + logs["feature_loss"][0],
        rtol=1e-5,
    )


def test_projection_trains_and_the_student_stays_plain(digits, tmp_path):
    x, y = digits[0][:64], digits[1][:64]
    distiller = _distiller()
    kernel_before = keras.ops.convert_to_numpy(distiller.features[0].projection.kernel)
    distiller.fit(x, y, batch_size=32, epochs=2, verbose=0)
    kernel_after = keras.ops.convert_to_numpy(distiller.features[0].projection.kernel)
    assert not np.allclose(kernel_before, kernel_after)
    # The student holds no projection: its weights are its own layers'.
    student = distiller.student
    assert len(student.weights) == 4
    student_path = tmp_path / "student.keras"
    student.save(student_path)
    assert len(keras.saving.load_model(student_path).weights) == 4

    path = tmp_path / "distiller.keras"
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert [type(f).__name__ for f in restored.features] == [
        "Hint",
        "AttentionTransfer",
    ]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored.features[0].projection.kernel),
        kernel_after,
    )
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6
    )
    restored.fit(x, y, batch_size=32, verbose=0)


def test_feature_errors(dense_model):
    teacher, student = _cnn(6, 1, "teacher"), _cnn(3, 2, "student")
    with pytest.raises(ValueError, match="has no layer named 'nope'"):
        kdkeras.Distiller(teacher, student, features=[Hint("nope", "student_conv")])
    with pytest.raises(TypeError, match="`features` must be a list"):
        kdkeras.Distiller(teacher, student, features=["teacher_conv"])
    with pytest.raises(ValueError, match="train from stored teacher features"):
        kdkeras.Distiller(None, student, features=[Hint("a", "student_conv")])
    with pytest.raises(ValueError, match="AttentionTransfer` matches feature maps"):
        kdkeras.Distiller(
            teacher,
            student,
            features=[AttentionTransfer("teacher_logits", "student_logits")],
        )
    with pytest.raises(ValueError, match="`weight` must be ≥ 0"):
        Hint("a", "b", weight=-1)


def test_features_given_as_configs_are_resolved_by_the_registry():
    teacher, student = _cnn(6, 1, "teacher"), _cnn(3, 2, "student")
    hint = kdkeras.losses.get(
        "hint", teacher_layer="teacher_features", student_layer="student_features"
    )
    attention = AttentionTransfer("teacher_features", "student_features", p=4)
    distiller = kdkeras.Distiller(
        teacher,
        student,
        features=[hint, keras.saving.serialize_keras_object(attention)],
    )
    assert distiller.features[0] is hint
    assert isinstance(distiller.features[1], AttentionTransfer)
    assert distiller.features[1].get_config() == attention.get_config()
    with pytest.raises(TypeError, match=r"kind 'features' of kdkeras.losses: \["):
        kdkeras.Distiller(
            teacher,
            student,
            features=[keras.saving.serialize_keras_object(kdkeras.losses.KDLoss())],
        )
