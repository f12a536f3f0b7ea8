"""DIST (Huang et al., 2022): hand-computed values on 2×3 and 4×3 batches,
its class and registration, and a short Distiller run."""

import math

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.losses import correlation

# Four examples, three classes. The teacher's third row is constant: its
# softened probabilities are uniform, so its Pearson correlation is 0.
TEACHER = np.array(
    [[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [1.0, 1.0, 1.0], [0.5, -1.0, 2.0]],
    dtype="float32",
)
STUDENT = np.array(
    [[1.0, 1.0, 1.0], [1.0, 0.0, 0.5], [2.0, 0.0, -1.0], [0.0, 0.5, 1.0]],
    dtype="float32",
)


def _dist_by_hand(teacher, student, temperature, beta, gamma):
    """`(per_sample, inter, intra)`, step by step in float64."""
    teacher, student = teacher.astype("float64"), student.astype("float64")
    # Step 1: the softened probabilities of each row.
    p_t = np.exp(teacher / temperature)
    p_t = p_t / p_t.sum(axis=1, keepdims=True)
    p_s = np.exp(student / temperature)
    p_s = p_s / p_s.sum(axis=1, keepdims=True)

    def pearson(a, b):
        a, b = a - a.mean(), b - b.mean()
        return (a * b).sum() / (
            math.sqrt((a * a).sum()) * math.sqrt((b * b).sum()) + 1e-8
        )

    # Step 2: inter-class, per sample: the correlation across the classes.
    inter = [
        temperature**2 * (1.0 - pearson(p_s[i, :], p_t[i, :])) for i in range(len(p_t))
    ]
    # Step 3: intra-class, one per batch: the correlation across the batch of
    # each class, averaged over the classes.
    per_class = [1.0 - pearson(p_s[:, c], p_t[:, c]) for c in range(p_t.shape[1])]
    intra = temperature**2 * sum(per_class) / len(per_class)
    # Step 4: the batch term is added to every sample.
    return [beta * value + gamma * intra for value in inter], inter, intra


def test_dist_on_two_samples_by_hand():
    # Across a batch of two, a class's correlation is ±1: the sign of the
    # product of the two models' changes from sample 0 to sample 1.
    # p_t: softmax(2, 1, 0) = [.665, .245, .090], softmax(0, 1, 3) =
    # [.042, .114, .844]: class 0 down, class 1 down, class 2 up.
    # p_s: [1/3, 1/3, 1/3], softmax(1, 0, .5) = [.506, .186, .307]: class 0
    # up, class 1 down, class 2 down. So ρ = [−1, +1, −1] and
    # intra = mean(1 − ρ) = (2 + 0 + 2) / 3 at T = 1.
    _, inter, intra = _dist_by_hand(TEACHER[:2], STUDENT[:2], 1.0, 1.0, 1.0)
    assert intra == pytest.approx(4.0 / 3.0, rel=1e-6)
    # Sample 0: the student is uniform, so its centred row is zero, ρ = 0.
    assert inter[0] == pytest.approx(1.0)
    value = kdkeras.losses.dist_loss(TEACHER[:2], STUDENT[:2])
    np.testing.assert_allclose(
        np.asarray(value), [inter[0] + 4.0 / 3.0, inter[1] + 4.0 / 3.0], rtol=1e-5
    )


@pytest.mark.parametrize("temperature, beta, gamma", [(1.0, 1.0, 1.0), (4.0, 2.0, 0.5)])
def test_dist_matches_the_definition_on_a_batch(temperature, beta, gamma):
    per_sample, inter, intra = _dist_by_hand(TEACHER, STUDENT, temperature, beta, gamma)
    # The constant teacher row: ρ = 0, so inter = T².
    assert inter[2] == pytest.approx(temperature**2)
    value = np.asarray(
        kdkeras.losses.dist_loss(
            TEACHER, STUDENT, temperature, inter_weight=beta, intra_weight=gamma
        )
    )
    np.testing.assert_allclose(value, per_sample, rtol=1e-5)
    # Their mean is the paper's loss: β · mean(inter) + γ · intra.
    np.testing.assert_allclose(
        value.mean(), beta * np.mean(inter) + gamma * intra, rtol=1e-5
    )


def test_pearson_correlation_by_hand_and_for_constant_vectors():
    a = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]], dtype="float32")
    b = np.array([[2.0, 4.0, 7.0], [1.0, 2.0, 3.0]], dtype="float32")
    # Row 0: a' = [−1, 0, 1], b' = [−2.333, −0.333, 2.667]:
    # Σa'b' = 5, ‖a'‖ = √2, ‖b'‖ = √12.667. Row 1: a is constant, ρ = 0.
    expected = 5.0 / (math.sqrt(2.0) * math.sqrt(38.0 / 3.0))
    value = correlation.pearson_correlation(a, b)
    np.testing.assert_allclose(np.asarray(value), [expected, 0.0], rtol=1e-5)


def test_equal_logits_give_zero_and_constant_logits_stay_finite():
    varied = TEACHER[[0, 1, 3]]  # without the constant row, whose ρ is 0
    value = kdkeras.losses.dist_loss(varied, varied, temperature=4.0)
    np.testing.assert_allclose(np.asarray(value), np.zeros(3), atol=1e-4)
    constant = np.zeros((4, 3), dtype="float32")
    # Every row and column is constant: ρ = 0, inter = intra = T².
    value = kdkeras.losses.dist_loss(constant, constant, temperature=2.0)
    np.testing.assert_allclose(np.asarray(value), np.full(4, 8.0), rtol=1e-6)


@pytest.mark.parametrize(
    "teacher, student",
    [
        (np.zeros((4, 3)), np.zeros((4, 3))),
        (TEACHER, STUDENT),
        (
            np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 1e3]]),
            np.array([[-1e3, 1e3, 0.0], [1e3, -1e3, -1e3]]),
        ),
    ],
)
def test_gradients_are_finite(teacher, student, mean_gradient):
    teacher = teacher.astype("float32")
    gradient = mean_gradient(
        lambda s: kdkeras.losses.dist_loss(teacher, s, temperature=4.0),
        student.astype("float32"),
    )
    assert np.isfinite(gradient).all()


def test_the_class_takes_the_temperature_at_call_time_and_weights_the_samples():
    loss = kdkeras.losses.DISTLoss(inter_weight=2.0, intra_weight=0.5)
    _, inter, intra = _dist_by_hand(TEACHER, STUDENT, 4.0, 2.0, 0.5)
    weights = np.array([1.0, 0.0, 2.0, 1.0])
    value = loss(TEACHER, STUDENT, sample_weight=weights, temperature=4.0)
    # The weights weigh the inter term; the intra term counts Σw / batch.
    expected = (2.0 * np.dot(weights, inter) + 0.5 * intra * weights.sum()) / 4
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)
    # Without a call-time temperature the loss's own (1) is used.
    own = _dist_by_hand(TEACHER, STUDENT, 1.0, 2.0, 0.5)[0]
    np.testing.assert_allclose(float(loss(TEACHER, STUDENT)), np.mean(own), rtol=1e-5)
    assert loss.temperature == 1.0


def test_config_round_trips_and_registration():
    loss = kdkeras.losses.DISTLoss(temperature=4.0, inter_weight=2.0, intra_weight=3.0)
    config = loss.get_config()
    assert {
        key: config[key] for key in ("temperature", "inter_weight", "intra_weight")
    } == {
        "temperature": 4.0,
        "inter_weight": 2.0,
        "intra_weight": 3.0,
    }
    assert kdkeras.losses.DISTLoss.from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"] == "kdkeras>DISTLoss"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert isinstance(restored, kdkeras.losses.DISTLoss)
    assert restored.get_config() == config
    assert isinstance(kdkeras.losses.get("dist"), kdkeras.losses.DISTLoss)
    assert kdkeras.losses.get("dist", temperature=4.0).temperature == 4.0
    assert kdkeras.losses.registered_kinds()["dist"] == "logits"
    assert kdkeras.losses.get("dist").uses_temperature


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"temperature": 0.0}, ValueError, "`temperature` must be > 0"),
        ({"temperature": "4"}, TypeError, "`temperature` must be a positive number"),
        (
            {"inter_weight": -1.0},
            ValueError,
            r"`inter_weight` must be a finite number in \[0, inf\]",
        ),
        ({"intra_weight": "1"}, TypeError, "Received: intra_weight='1'"),
    ],
)
def test_bad_arguments_are_refused(arguments, error, message):
    with pytest.raises(error, match=message):
        kdkeras.losses.DISTLoss(**arguments)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="must have the same shape"):
        kdkeras.losses.dist_loss(TEACHER, STUDENT[:, :2])
    with pytest.raises(ValueError, match=r"logits of shape \(batch, classes\)"):
        kdkeras.losses.dist_loss(TEACHER[None], STUDENT[None])
    with pytest.raises(ValueError, match="`temperature` must be > 0"):
        kdkeras.losses.dist_loss(TEACHER, STUDENT, temperature=-1.0)


def test_distiller_trains_with_dist(digits, dense_model):
    x, y = digits[0][:64].reshape(64, -1), digits[1][:64]
    teacher = dense_model(10, inputs=64, seed=1)
    student = dense_model(10, inputs=64, seed=2)
    teacher_logits = teacher.predict(x, verbose=0)
    student_logits = student.predict(x, verbose=0)
    distiller = kdkeras.Distiller(teacher, student)
    distiller.compile(
        optimizer=keras.optimizers.Adam(0.01),
        distillation_loss_fn="dist",
        temperature=4.0,
        alpha=0.5,
    )
    # One batch, the same at every step (the intra term depends on the batch).
    logs = distiller.fit(
        x, y, batch_size=64, epochs=8, shuffle=False, verbose=0
    ).history["distillation_loss"]
    # The first step's loss, before any update: DIST at T = 4 by hand.
    expected = np.mean(_dist_by_hand(teacher_logits, student_logits, 4.0, 1.0, 1.0)[0])
    np.testing.assert_allclose(logs[0], expected, rtol=1e-4)
    assert np.isfinite(logs).all()
    assert logs[-1] < logs[0]
