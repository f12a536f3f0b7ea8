"""Tests of magnitude pruning with the teacher in the loop."""

import importlib.util

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras import optimize

# find_spec, not importorskip: importing tfmot would set TF_USE_LEGACY_KERAS
# for the whole test session; kdkeras.optimize imports it and restores it.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_model_optimization") is None,
    reason='needs `pip install "kdkeras[optimize]"`',
)


def test_schedule_fits_the_number_of_steps():
    for total_steps in (2, 10, 126, 1000):
        begin, end, frequency = optimize.pruning_schedule_steps(total_steps)
        assert begin == 0
        assert 0 < end < total_steps
        assert end % frequency == 0
        assert frequency <= max(1, total_steps // 10)
    with pytest.raises(ValueError, match="at least 2 training steps"):
        optimize.pruning_schedule_steps(1)


def test_target_sparsity_is_checked():
    student = kdkeras.models.build_cnn(filters=(4,), dense_units=None)
    with pytest.raises(ValueError, match="target_sparsity"):
        optimize.prune(student, (np.zeros((4, 28, 28, 1)), np.zeros(4)), 1.0)


@pytest.mark.slow
def test_pruned_student_reaches_its_target_sparsity():
    (x_train, y_train), (x_test, y_test) = (
        kdkeras.datasets.load_embedded_fashion_mnist()
    )
    x_train, y_train = x_train[:4000, ..., None], y_train[:4000]
    x_test = x_test[..., None]
    keras.utils.set_random_seed(0)
    teacher = kdkeras.models.build_cnn(filters=(8, 16), dense_units=32, name="t")
    teacher_logits = teacher.predict(x_train, verbose=0)
    student = kdkeras.models.build_cnn(
        filters=(8, 16), dense_units=32, pooling="flatten", name="student"
    )
    original = [w.copy() for w in student.get_weights()]

    result = optimize.prune(
        student,
        (x_train, y_train),
        target_sparsity=0.6,
        epochs=2,
        teacher_logits=teacher_logits,
        learning_rate=1e-3,
        validation_data=(x_test, y_test),
    )

    print(result.sparsity)
    layers = result.sparsity["layers"]
    assert set(layers) == {"block1_conv", "block2_conv", "dense", "logits"}
    for name, sparsity in layers.items():
        assert abs(sparsity - 0.6) <= 0.01, name
    assert abs(result.sparsity["overall"] - 0.6) <= 0.01
    assert isinstance(result.model, keras.Model)
    np.testing.assert_allclose(
        result.model(x_test[:32]), result.tf_keras_model(x_test[:32]), atol=1e-5
    )
    for before, after in zip(original, student.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert optimize.gzipped_size_bytes(result.model) < 0.7 * (
        optimize.gzipped_size_bytes(student)
    )


@pytest.mark.parametrize(
    "data, kwargs, error, message",
    [
        (
            (np.zeros((4, 28, 28, 1)), np.array([0, 1, 12, 3])),
            {},
            ValueError,
            r"class ids in \[0, 10\).*\[12\]",
        ),
        (
            (np.zeros((4, 28, 28, 1)), np.array([0.0, 1.5, 2.0, 3.0])),
            {},
            ValueError,
            r"whole class ids.*\[1\.5\]",
        ),
        ((np.zeros((0, 28, 28, 1)), np.zeros(0)), {}, ValueError, "at least one"),
        (
            (np.zeros((4, 28, 28, 1)), np.zeros(4)),
            {"teacher_logits": np.zeros((4, 7))},
            ValueError,
            r"one column per class of the student \(10\)",
        ),
        (
            (np.zeros((4, 28, 28, 1)), np.zeros(4)),
            {"target_sparsity": "0.5"},
            TypeError,
            "`target_sparsity` must be a number",
        ),
        (
            (np.zeros((4, 28, 28, 1)), np.zeros(4)),
            {"verbose": True},
            ValueError,
            "`verbose` must be 0, 1, 2 or 'auto'",
        ),
    ],
)
def test_bad_inputs_are_refused_before_training(data, kwargs, error, message):
    student = kdkeras.models.build_cnn(filters=(4,), dense_units=None)
    kwargs = {"target_sparsity": 0.5, **kwargs}
    with pytest.raises(error, match=message):
        optimize.prune(student, data, **kwargs)


def test_verbose_2_prints_one_line_per_epoch(capsys):
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, (64, 28, 28, 1)), np.arange(64) % 10)
    student = kdkeras.models.build_cnn(filters=(4,), dense_units=None)
    quiet = optimize.prune(student, data, epochs=2, batch_size=32)
    assert capsys.readouterr().out == ""
    assert sorted(quiet.history) == ["accuracy", "loss"]
    optimize.prune(
        student, data, epochs=2, batch_size=32, validation_data=data, verbose=2
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("Epoch")] == [
        "Epoch 1/2",
        "Epoch 2/2",
    ]
    epoch_lines = [line for line in lines if line.startswith("2/2 - ")]
    assert len(epoch_lines) == 2
    assert all(
        " - loss: " in line and " - accuracy: " in line and " - val_accuracy: " in line
        for line in epoch_lines
    )
