"""CRD (contrastive representation distillation): the pure functions by hand
on a bank of 4 rows of width 3, the memory update, gradients into the heads,
and the `ContrastiveRepresentation` layer."""

import json
import math

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.losses import contrastive_losses, contrastive_methods


def _unit(rows):
    rows = np.asarray(rows, dtype="float64")
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# A bank of N = 4 examples, embeddings of width d = 3; a batch of 2 examples
# (indices 1 and 3) with K = 2 negatives each, fixed.
TEACHER_BANK = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
STUDENT_BANK = _unit([[1, 2, 0], [0, 1, 1], [2, 0, 1], [1, 1, 1]])
TEACHER = _unit([[0.5, 1.0, 0.0], [1.0, 0.5, 0.5]])
STUDENT = _unit([[0.0, 1.0, 0.5], [1.0, 1.0, 0.5]])
INDEX = np.array([1, 3])
NEGATIVES = np.array([[0, 2], [2, 1]])
TEMPERATURE = 0.5


def _direction_by_hand(anchors, bank, log_z=None):
    """The reference code's `ContrastMemory` + `ContrastLoss`, one loop per
    example, without its 1e-7: `(per-example loss, log Z)`."""
    n, k = len(bank), NEGATIVES.shape[1]
    scores = []  # exp(M[j] · v / τ) for [positive, negatives], per example
    for i, anchor in zip(INDEX, anchors, strict=True):
        rows = [i, *NEGATIVES[list(INDEX).index(i)]]
        scores.append([math.exp(bank[j] @ anchor / TEMPERATURE) for j in rows])
    scores = np.array(scores)
    if log_z is None:
        log_z = math.log(scores.mean() * n)  # Z = mean(out) · outputSize
    p = scores / math.exp(log_z)
    noise = k * (1.0 / n)  # m · Pn
    log_d1 = np.log(p[:, 0] / (p[:, 0] + noise))
    log_d0 = np.log(noise / (p[:, 1:] + noise))
    return -(log_d1 + log_d0.sum(axis=1)), log_z


def _crd_by_hand(log_normalizers=None):
    log_normalizers = log_normalizers or (None, None)
    student_anchor, _ = _direction_by_hand(STUDENT, TEACHER_BANK, log_normalizers[0])
    teacher_anchor, _ = _direction_by_hand(TEACHER, STUDENT_BANK, log_normalizers[1])
    return student_anchor + teacher_anchor


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _crd(**kwargs):
    return contrastive_losses.crd_loss(
        TEACHER.astype("float32"),
        STUDENT.astype("float32"),
        TEACHER_BANK.astype("float32"),
        STUDENT_BANK.astype("float32"),
        INDEX,
        NEGATIVES,
        temperature=TEMPERATURE,
        **kwargs,
    )


def test_logits_are_the_bank_rows_dot_the_anchor():
    logits = contrastive_losses.contrastive_logits(
        STUDENT.astype("float32"),
        TEACHER_BANK.astype("float32"),
        INDEX,
        NEGATIVES,
        TEMPERATURE,
    )
    expected = [
        [TEACHER_BANK[j] @ STUDENT[b] / TEMPERATURE for j in (i, *NEGATIVES[b])]
        for b, i in enumerate(INDEX)
    ]
    np.testing.assert_allclose(_numpy(logits), expected, rtol=1e-5)


def test_crd_loss_by_hand_with_the_first_batch_normalizers():
    np.testing.assert_allclose(_numpy(_crd()), _crd_by_hand(), rtol=1e-5)


def test_crd_loss_by_hand_with_given_normalizers():
    log_normalizers = (math.log(7.0), math.log(3.0))
    np.testing.assert_allclose(
        _numpy(_crd(log_normalizers=log_normalizers)),
        _crd_by_hand(log_normalizers),
        rtol=1e-5,
    )


def test_log_normalizer_is_n_times_the_mean_exponential():
    logits = np.array([[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0]], dtype="float32")
    expected = math.log(10 * np.exp(logits.astype("float64")).mean())
    np.testing.assert_allclose(
        float(_numpy(contrastive_losses.log_normalizer(logits, 10))),
        expected,
        rtol=1e-6,
    )


def test_nce_loss_of_one_example_by_hand():
    # Positive logit 2, negatives 0 and 1, Z = 4, N = 8, K = 2: K/N = 1/4.
    logits = np.array([[2.0, 0.0, 1.0]], dtype="float32")
    p = np.exp([2.0, 0.0, 1.0]) / 4.0
    expected = -(
        math.log(p[0] / (p[0] + 0.25))
        + math.log(0.25 / (p[1] + 0.25))
        + math.log(0.25 / (p[2] + 0.25))
    )
    value = contrastive_losses.nce_loss(logits, math.log(4.0), 8)
    np.testing.assert_allclose(_numpy(value), [expected], rtol=1e-6)


def test_a_close_positive_and_far_negatives_give_a_small_loss():
    # Each anchor equal to its own bank row, orthogonal to the others.
    bank = np.eye(4, dtype="float32")
    negatives = np.array([[0, 2], [0, 2]])
    logits = contrastive_losses.contrastive_logits(
        bank[INDEX], bank, INDEX, negatives, 0.07
    )
    matched = contrastive_losses.nce_loss(logits, math.log(4.0), 4)
    swapped = contrastive_losses.nce_loss(logits[:, ::-1], math.log(4.0), 4)
    assert np.all(_numpy(matched) < _numpy(swapped))


def test_update_bank_by_hand():
    bank = TEACHER_BANK.astype("float32")
    embeddings = TEACHER.astype("float32")
    updated = _numpy(contrastive_losses.update_bank(bank, embeddings, INDEX, 0.5))
    for row in range(4):
        if row in INDEX:
            moved = 0.5 * bank[row] + 0.5 * embeddings[list(INDEX).index(row)]
            np.testing.assert_allclose(
                updated[row], moved / np.linalg.norm(moved), rtol=1e-6, atol=1e-7
            )
        else:
            np.testing.assert_array_equal(updated[row], bank[row])
    # Momentum 0 replaces the rows by the (normalised) embeddings.
    replaced = _numpy(contrastive_losses.update_bank(bank, 3 * embeddings, INDEX, 0.0))
    np.testing.assert_allclose(replaced[INDEX], embeddings, rtol=1e-6, atol=1e-7)


def test_negatives_are_uniform_over_the_other_rows():
    index = np.array([0, 3, 9, 5] * 50)
    negatives = _numpy(
        contrastive_losses.sample_negatives(
            index, 10, 400, seed=keras.random.SeedGenerator(0)
        )
    )
    assert negatives.shape == (200, 400) and negatives.dtype == np.int32
    assert np.all(negatives != index[:, None])
    assert negatives.min() >= 0 and negatives.max() <= 9
    for example in (0, 3, 9):
        counts = np.bincount(negatives[index == example].ravel(), minlength=10)
        assert counts[example] == 0
        others = np.delete(counts, example)
        # 50 × 400 draws over 9 rows: about 2222 each.
        assert np.all(np.abs(others - 20000 / 9) < 300)
    again = contrastive_losses.sample_negatives(
        index, 10, 400, seed=keras.random.SeedGenerator(0)
    )
    np.testing.assert_array_equal(_numpy(again), negatives)


def test_bank_initialisation_limit_is_the_reference_stdv():
    assert contrastive_losses.bank_init_limit(3) == 1.0
    assert contrastive_losses.bank_init_limit(128) == pytest.approx(
        1.0 / math.sqrt(128 / 3)
    )


def _method(**kwargs):
    kwargs = {
        "num_examples": 4,
        "embedding_dim": 3,
        "num_negatives": 2,
        "temperature": TEMPERATURE,
        "seed": 0,
        **kwargs,
    }
    method = kdkeras.losses.ContrastiveRepresentation("t", "s", **kwargs)
    method.build(((None, 5), (None, 2, 2)))
    return method


def _features(seed=0):
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(2, 5)).astype("float32")
    student = rng.normal(size=(2, 2, 2)).astype("float32")
    return teacher, student


@pytest.fixture
def fixed_negatives(monkeypatch):
    """The layer draws `NEGATIVES`."""
    monkeypatch.setattr(
        contrastive_losses,
        "sample_negatives",
        lambda index, n, k, seed=None: keras.ops.convert_to_tensor(NEGATIVES, "int32"),
    )


def test_the_layer_computes_the_function_and_updates_its_state(fixed_negatives):
    method = _method()
    teacher_features, student_features = _features()
    teacher, student = (_numpy(v) for v in method.embed(*_features()))
    np.testing.assert_allclose(np.linalg.norm(student, axis=1), 1.0, rtol=1e-6)
    banks = [_numpy(method.teacher_bank), _numpy(method.student_bank)]
    limit = contrastive_losses.bank_init_limit(3)
    assert all(np.abs(bank).max() <= limit for bank in banks)
    assert not np.allclose(*banks)

    loss = method.loss(teacher_features, student_features, example_index=INDEX)
    expected = contrastive_losses.crd_loss(
        teacher, student, *banks, INDEX, NEGATIVES, temperature=TEMPERATURE
    )
    np.testing.assert_allclose(_numpy(loss), _numpy(expected), rtol=1e-5)
    # Z of each direction is estimated at the first call and kept.
    first_normalizers = _numpy(method.log_normalizers)
    assert float(_numpy(method.normalizers_set)) == 1.0
    for bank, before, embeddings in (
        (method.teacher_bank, banks[0], teacher),
        (method.student_bank, banks[1], student),
    ):
        np.testing.assert_allclose(
            _numpy(bank),
            _numpy(contrastive_losses.update_bank(before, embeddings, INDEX, 0.5)),
            rtol=1e-6,
            atol=1e-7,  # float32: entries near 0.01 differ in the last bits.
        )
        np.testing.assert_array_equal(_numpy(bank)[[0, 2]], before[[0, 2]])

    banks = [_numpy(method.teacher_bank), _numpy(method.student_bank)]
    second = method.loss(teacher_features, student_features, example_index=INDEX)
    expected = contrastive_losses.crd_loss(
        teacher,
        student,
        *banks,
        INDEX,
        NEGATIVES,
        temperature=TEMPERATURE,
        log_normalizers=tuple(first_normalizers),
    )
    np.testing.assert_allclose(_numpy(second), _numpy(expected), rtol=1e-5)
    np.testing.assert_array_equal(_numpy(method.log_normalizers), first_normalizers)


def _head_gradients(method, teacher_features, student_features):
    """d mean(loss) / d (teacher head kernel, student head kernel)."""
    kernels = [method.teacher_head.kernel, method.student_head.kernel]
    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        def mean_loss(values):
            mapping = list(zip(kernels, values, strict=True))
            with keras.StatelessScope(state_mapping=mapping):
                return jnp.mean(method.loss(teacher_features, student_features, INDEX))

        values = [jnp.asarray(_numpy(kernel)) for kernel in kernels]
        return [np.asarray(g) for g in jax.grad(mean_loss)(values)]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        value = tf.reduce_mean(method.loss(teacher_features, student_features, INDEX))
    return [g.numpy() for g in tape.gradient(value, [k.value for k in kernels])]


def test_gradients_flow_into_both_heads():
    method = _method()
    gradients = _head_gradients(method, *_features())
    for gradient in gradients:
        assert np.all(np.isfinite(gradient)) and np.abs(gradient).max() > 0


def test_the_layer_needs_the_index():
    with pytest.raises(ValueError, match="needs each example's index"):
        _method().loss(*_features())


def test_default_negatives_and_constants():
    method = kdkeras.losses.get(
        "crd", teacher_layer="t", student_layer="s", num_examples=50000
    )
    assert isinstance(method, contrastive_methods.ContrastiveRepresentation)
    assert (method.weight, method.embedding_dim, method.temperature) == (
        0.8,
        128,
        0.07,
    )
    assert (method.momentum, method.num_negatives, method.negatives) == (
        0.5,
        None,
        16384,
    )
    assert _method(num_negatives=None).negatives == 3  # a bank of 4: 3 others
    assert kdkeras.losses.registered_kinds()["crd"] == "features"
    assert kdkeras.losses.ContrastiveRepresentation.needs_example_index


def test_config_round_trips():
    method = kdkeras.losses.ContrastiveRepresentation(
        "t",
        "s",
        num_examples=100,
        weight=2.0,
        embedding_dim=16,
        num_negatives=10,
        temperature=0.1,
        momentum=0.9,
        seed=3,
        name="crd",
    )
    config = method.get_config()
    rebuilt = type(method).from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    serialized = keras.saving.serialize_keras_object(method)
    assert serialized["registered_name"] == "kdkeras>ContrastiveRepresentation"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(method)
    assert restored.get_config() == config
    assert kdkeras.losses.get(serialized).get_config() == config


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_examples": 1}, ValueError, "`num_examples` must be ≥ 2"),
        ({"num_examples": 10.0}, TypeError, "`num_examples` must be an integer"),
        ({"num_negatives": 10}, ValueError, "at most `num_examples − 1`"),
        ({"num_negatives": 0}, ValueError, "`num_negatives` must be ≥ 1"),
        ({"embedding_dim": 0}, ValueError, "`embedding_dim` must be ≥ 1"),
        ({"temperature": 0.0}, ValueError, r"`temperature` must be in \(0, ∞\)"),
        ({"momentum": 1.0}, ValueError, r"`momentum` must be in \[0, 1\)"),
        ({"momentum": "0.5"}, TypeError, "`momentum` must be a number"),
        ({"weight": -1.0}, ValueError, "`weight` must be ≥ 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, message):
    kwargs = {"num_examples": 10, **kwargs}
    with pytest.raises(error, match=message):
        kdkeras.losses.ContrastiveRepresentation("t", "s", **kwargs)


def test_unknown_feature_sizes_are_refused():
    method = kdkeras.losses.ContrastiveRepresentation("t", "s", num_examples=10)
    with pytest.raises(ValueError, match="embeds flattened features"):
        method.build(((None,), (None, 4)))
    with pytest.raises(ValueError, match="of known size"):
        method.build(((None, None, 3), (None, 4)))
