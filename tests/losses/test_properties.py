"""Properties of the losses, schedules, label checks and the logit cache that
must hold for any input (hypothesis), not only for the hand-computed cases."""

import os
import tempfile

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from kdkeras import caches, losses
from kdkeras.distillation import schedules
from kdkeras.validation import check_class_labels

FAST = settings(max_examples=40, deadline=None)

# float32 logits anywhere in ±1e3 (the README promises finite values there).
LOGIT = st.floats(-1e3, 1e3, allow_nan=False, width=32)
TEMPERATURE = st.floats(0.5, 10.0)
FLOAT32_MAX = float(np.finfo("float32").max)


@st.composite
def logit_pairs(draw, low=-1e3, high=1e3):
    """`(teacher_logits, student_logits)`, float32 arrays of one shape."""
    batch = draw(st.integers(1, 4))
    classes = draw(st.integers(2, 8))
    elements = st.floats(low, high, allow_nan=False, width=32)
    teacher = draw(hnp.arrays("float32", (batch, classes), elements=elements))
    student = draw(hnp.arrays("float32", (batch, classes), elements=elements))
    return teacher, student


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor), dtype="float64")


def _softmax(logits):
    logits = np.asarray(logits, dtype="float64")
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


@FAST
@given(logit_pairs(), TEMPERATURE)
def test_kd_loss_is_finite_and_not_negative(pair, temperature):
    teacher, student = pair
    loss = _numpy(losses.kd_loss(teacher, student, temperature))
    assert loss.shape == (len(teacher),)
    assert np.all(np.isfinite(loss))
    # KL ≥ 0; float32 rounding of log-probabilities of ~1e3/T may leave a
    # few ulps below zero.
    assert np.all(loss >= -1e-3 * temperature**2)


@FAST
@given(logit_pairs(), TEMPERATURE)
def test_kd_loss_is_zero_for_equal_logits(pair, temperature):
    teacher, _ = pair
    np.testing.assert_allclose(
        _numpy(losses.kd_loss(teacher, teacher, temperature)), 0.0, atol=1e-6
    )


@FAST
@given(
    logit_pairs(low=-30, high=30),
    st.floats(-100, 100, width=32),
    st.floats(-100, 100, width=32),
    TEMPERATURE,
)
def test_kd_loss_ignores_a_constant_added_to_a_row(pair, shift_t, shift_s, temperature):
    """softmax(z + c) = softmax(z): the loss only sees differences of logits."""
    teacher, student = pair
    expected = _numpy(losses.kd_loss(teacher, student, temperature))
    shifted = _numpy(losses.kd_loss(teacher + shift_t, student + shift_s, temperature))
    np.testing.assert_allclose(shifted, expected, rtol=1e-3, atol=2e-3)


@FAST
@given(logit_pairs(low=-30, high=30), TEMPERATURE)
def test_kd_loss_is_t_squared_times_the_kl_of_softened_outputs(pair, temperature):
    """kd_loss(t, s, T) = T² · Σ p_t (log p_t − log p_s), p = softmax(z / T)."""
    teacher, student = pair
    p_t, p_s = _softmax(teacher / temperature), _softmax(student / temperature)
    kl = np.sum(p_t * (np.log(p_t + 1e-300) - np.log(p_s + 1e-300)), axis=-1)
    np.testing.assert_allclose(
        _numpy(losses.kd_loss(teacher, student, temperature)),
        temperature**2 * kl,
        rtol=1e-3,
        atol=1e-4 * temperature**2,
    )


@FAST
@given(logit_pairs(low=-FLOAT32_MAX, high=FLOAT32_MAX), TEMPERATURE)
def test_kd_loss_is_finite_for_any_float32_logits(pair, temperature):
    """Finite up to ±3.4e38, the largest float32 (logits clipped at ±1e30)."""
    teacher, student = pair
    assert np.all(np.isfinite(_numpy(losses.kd_loss(teacher, student, temperature))))
    np.testing.assert_array_equal(
        _numpy(losses.kd_loss(teacher, teacher, temperature)), 0.0
    )


@pytest.mark.tensorflow
@FAST
@given(logit_pairs(), TEMPERATURE)
def test_kd_gradient_is_finite_and_t_times_the_softened_difference(pair, temperature):
    """d kd_loss / d s = T · (softmax(s / T) − softmax(t / T)), finite for ±1e3."""
    import tensorflow as tf

    teacher, student = pair
    student_variable = tf.Variable(student)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(losses.kd_loss(teacher, student_variable, temperature))
    gradient = tape.gradient(loss, student_variable).numpy()
    assert np.all(np.isfinite(gradient))
    expected = temperature * (
        _softmax(student / temperature) - _softmax(teacher / temperature)
    )
    np.testing.assert_allclose(gradient, expected, atol=1e-4 * temperature)


@FAST
@given(logit_pairs(), TEMPERATURE, st.data())
def test_dkd_loss_is_finite_and_not_negative(pair, temperature, data):
    teacher, student = pair
    labels = data.draw(
        hnp.arrays("int32", len(teacher), elements=st.integers(0, teacher.shape[1] - 1))
    )
    loss = _numpy(losses.dkd_loss(teacher, student, labels, temperature))
    assert np.all(np.isfinite(loss))
    assert np.all(loss >= -1e-3 * 9 * temperature**2)


@FAST
@given(logit_pairs(low=-30, high=30), TEMPERATURE, st.data())
def test_dkd_loss_is_zero_for_equal_logits(pair, temperature, data):
    teacher, _ = pair
    labels = data.draw(
        hnp.arrays("int32", len(teacher), elements=st.integers(0, teacher.shape[1] - 1))
    )
    np.testing.assert_allclose(
        _numpy(losses.dkd_loss(teacher, teacher, labels, temperature)), 0.0, atol=1e-5
    )


@FAST
@given(
    st.sampled_from([schedules.Linear, schedules.Cosine]),
    st.floats(-10, 10),
    st.floats(-10, 10),
    st.integers(1, 10**6),
    st.integers(0, 10**7),
)
def test_schedules_stay_between_start_and_end(schedule, start, end, steps, step):
    values = schedule(start, end, steps)
    tolerance = 1e-6 * (abs(start) + abs(end)) + 1e-6
    value = float(ops.convert_to_numpy(values(step)))
    assert min(start, end) - tolerance <= value <= max(start, end) + tolerance
    assert float(ops.convert_to_numpy(values(0))) == pytest.approx(start, abs=tolerance)
    after = float(ops.convert_to_numpy(values(steps + step)))
    assert after == pytest.approx(end, abs=tolerance)


@FAST
@given(st.integers(2, 50), st.data())
def test_label_checks_accept_every_valid_id(num_classes, data):
    # From 2 classes: a one-hot row of 1 class, shape (N, 1), is a class id.
    ids = st.integers(0, num_classes - 1)
    labels = data.draw(hnp.arrays("int64", st.integers(1, 30), elements=ids))
    check_class_labels(labels, num_classes)
    check_class_labels(labels.astype("float32"), num_classes)
    check_class_labels(labels[:, None], num_classes)
    check_class_labels(np.eye(num_classes)[labels], num_classes)


@FAST
@given(st.integers(1, 50), st.data())
def test_label_checks_refuse_every_invalid_id(num_classes, data):
    valid = data.draw(
        hnp.arrays(
            "int64", st.integers(0, 10), elements=st.integers(0, num_classes - 1)
        )
    )
    bad = data.draw(
        st.one_of(st.integers(-(10**6), -1), st.integers(num_classes, 10**6))
    )
    labels = np.insert(valid, data.draw(st.integers(0, len(valid))), bad)
    with pytest.raises(ValueError, match=rf"class ids in \[0, {num_classes}\)"):
        check_class_labels(labels, num_classes)
    fractional = labels.astype("float64")
    fractional[np.flatnonzero(labels == bad)[0]] = num_classes - 0.5
    with pytest.raises(ValueError, match="whole class ids"):
        check_class_labels(fractional, num_classes)


@settings(max_examples=15, deadline=None)
@given(
    st.integers(1, 20),
    st.integers(2, 12),
    st.sampled_from(["uint8", "int32", "float32", "float64"]),
    st.sampled_from([(), (3,), (2, 2)]),
    st.integers(0, 2**32 - 1),
)
def test_cache_round_trip_for_any_shape_and_dtype(
    num_samples, num_classes, dtype, feature_shape, seed
):
    rng = np.random.default_rng(seed)
    x = (rng.uniform(0, 200, (num_samples, *feature_shape))).astype(dtype)
    logits = rng.normal(0, 50, (num_samples, num_classes)).astype("float32")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "logits.npz")
        caches.save_teacher_logits(path, logits, x, teacher="teacher-v1")
        loaded = caches.load_teacher_logits(path, x, teacher="teacher-v1")
        assert os.listdir(directory) == ["logits.npz"]
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, logits)


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    "loss_fn",
    [losses.kd_loss, losses.soft_target_cross_entropy, losses.standardized_kd_loss],
)
def test_losses_and_gradients_at_the_float32_limit(loss_fn):
    import tensorflow as tf

    limit = np.finfo("float32").max
    teacher = np.array([[limit, -limit, 0.0], [-limit, limit, limit]], "float32")
    student = tf.Variable(
        np.array([[-limit, limit, 0.0], [0.0, -limit, limit]], "float32")
    )
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(loss_fn(teacher, student, 2.0))
    assert np.isfinite(loss.numpy())
    assert np.all(np.isfinite(tape.gradient(loss, student).numpy()))


@pytest.mark.tensorflow
def test_dkd_at_the_float32_limit():
    limit = np.finfo("float32").max
    teacher = np.array([[limit, -limit, 0.0]], "float32")
    student = np.array([[-limit, limit, 0.0]], "float32")
    value = _numpy(losses.dkd_loss(teacher, student, np.array([0])))
    assert np.all(np.isfinite(value))
