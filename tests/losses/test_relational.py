"""RKD and PKT (relational feature methods): values by hand on three- and
four-example batches, their layers, registration, and short Distiller runs."""

import json
import math

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras.losses import relational_losses

# A right triangle with sides 3, 4, 5 (teacher, width 2) and three points on
# a line (student, width 1): the widths differ, the relations are compared.
TRIANGLE = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype="float32")
LINE = np.array([[0.0], [1.0], [3.0]], dtype="float32")

RNG = np.random.default_rng(0)
TEACHER = RNG.normal(size=(4, 3)).astype("float32")
STUDENT = RNG.normal(size=(4, 2)).astype("float32")


def _huber(x):
    return 0.5 * x * x if abs(x) < 1.0 else abs(x) - 0.5


def _distance_by_hand(teacher, student):
    """Per-example RKD distance loss, with loops over the pairs."""
    n = len(teacher)

    def normalized(e):
        d = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                d[i, j] = math.sqrt(((e[i] - e[j]) ** 2).sum())
        return d / (d.sum() / (n * (n - 1)))  # the mean of the n(n−1) pairs

    t, s = normalized(teacher.astype("float64")), normalized(student.astype("float64"))
    return [sum(_huber(s[i, j] - t[i, j]) for j in range(n)) / n for i in range(n)]


def _angle_by_hand(teacher, student):
    """Per-example RKD angle loss: the triplets with their vertex at i."""
    n = len(teacher)

    def cosine(e, i, j, k):
        if j == i or k == i:
            return 0.0
        a, b = e[j] - e[i], e[k] - e[i]
        return (a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum())

    teacher, student = teacher.astype("float64"), student.astype("float64")
    return [
        sum(
            _huber(cosine(student, i, j, k) - cosine(teacher, i, j, k))
            for j in range(n)
            for k in range(n)
        )
        / n**2
        for i in range(n)
    ]


def _pkt_by_hand(teacher, student):
    """Per-example PKT loss, with loops over the neighbours."""
    n = len(teacher)

    def conditionals(e):
        unit = e / np.sqrt((e * e).sum(axis=1, keepdims=True))
        kernel = [[(unit[i] @ unit[j] + 1.0) / 2.0 for j in range(n)] for i in range(n)]
        p = np.zeros((n, n))
        for i in range(n):
            total = sum(kernel[i][k] for k in range(n) if k != i)
            for j in range(n):
                p[i, j] = 0.0 if j == i else kernel[i][j] / total
        return p

    p_t = conditionals(teacher.astype("float64"))
    p_s = conditionals(student.astype("float64"))
    return [
        sum(p_t[i, j] * math.log(p_t[i, j] / p_s[i, j]) for j in range(n) if j != i)
        for i in range(n)
    ]


def test_rkd_distance_on_a_triangle_by_hand():
    # Teacher distances 3, 4, 5 (pairs 01, 02, 12), mean 4: ψ = .75, 1, 1.25.
    # Student distances 1, 3, 2, mean 2: ψ = .5, 1.5, 1.
    # Differences −.25, .5, −.25; Huber ½x²: .03125, .125, .03125.
    # Each row averages its 3 pairs (the diagonal counts 0).
    expected = [(0.03125 + 0.125) / 3, (0.03125 + 0.03125) / 3, (0.125 + 0.03125) / 3]
    value = relational_losses.rkd_distance_loss(TRIANGLE, LINE)
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-5)
    np.testing.assert_allclose(_distance_by_hand(TRIANGLE, LINE), expected)


def test_rkd_angle_on_a_triangle_by_hand():
    # Teacher angles: at 0 a right angle (cos 0); at 1, cos = 3/5; at 2,
    # cos = 4/5. Student, on a line: cos +1 at 0 and at 2, −1 at 1.
    # Each vertex has two ordered triplets (j, k), (k, j) with j ≠ k; the
    # triplets j = k have cos 1 in both. Huber: at 0 of 1 → .5; at 1 of
    # −1.6 → 1.1; at 2 of .2 → .02. Each row averages its 3² triplets.
    expected = [2 * 0.5 / 9, 2 * 1.1 / 9, 2 * 0.02 / 9]
    value = relational_losses.rkd_angle_loss(TRIANGLE, LINE)
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-4)
    np.testing.assert_allclose(_angle_by_hand(TRIANGLE, LINE), expected)


def test_rkd_on_a_batch_matches_the_loops():
    distance = _distance_by_hand(TEACHER, STUDENT)
    angle = _angle_by_hand(TEACHER, STUDENT)
    np.testing.assert_allclose(
        np.asarray(relational_losses.rkd_distance_loss(TEACHER, STUDENT)),
        distance,
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        np.asarray(relational_losses.rkd_angle_loss(TEACHER, STUDENT)),
        angle,
        rtol=1e-4,
    )
    value = relational_losses.rkd_loss(
        TEACHER, STUDENT, distance_weight=2.0, angle_weight=3.0
    )
    np.testing.assert_allclose(
        np.asarray(value), 2.0 * np.array(distance) + 3.0 * np.array(angle), rtol=1e-4
    )


def test_pkt_on_three_points_by_hand():
    teacher = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype="float32")
    student = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype="float32")
    # Teacher cosines: c01 = 0, c02 = c12 = 1/√2; K = (c + 1) / 2.
    near, far = (1.0 / math.sqrt(2.0) + 1.0) / 2.0, 0.5
    # p(· | 0) over (1, 2): [far, near] / (far + near); the same for 1 over
    # (0, 2); p(· | 2) over (0, 1): [½, ½].
    low, high = far / (far + near), near / (far + near)
    # The student is the teacher with points 1 and 2 swapped.
    p_t = [[low, high], [low, high], [0.5, 0.5]]
    p_s = [[high, low], [0.5, 0.5], [low, high]]
    expected = [
        sum(t * math.log(t / s) for t, s in zip(p_t[i], p_s[i], strict=True))
        for i in range(3)
    ]
    value = relational_losses.pkt_loss(teacher, student)
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-4)
    np.testing.assert_allclose(_pkt_by_hand(teacher, student), expected)


def test_pkt_on_a_batch_matches_the_loops():
    value = relational_losses.pkt_loss(TEACHER, STUDENT)
    np.testing.assert_allclose(
        np.asarray(value), _pkt_by_hand(TEACHER, STUDENT), rtol=1e-4
    )


@pytest.mark.parametrize(
    "loss_fn",
    [relational_losses.rkd_loss, relational_losses.pkt_loss],
    ids=["rkd", "pkt"],
)
def test_relations_ignore_scale_and_feature_maps_are_flattened(loss_fn):
    # Scaled (and, for RKD, shifted) embeddings hold the same relations.
    value = loss_fn(
        TEACHER,
        10.0 * TEACHER + (0.0 if loss_fn is relational_losses.pkt_loss else 3.0),
    )
    np.testing.assert_allclose(np.asarray(value), np.zeros(4), atol=1e-5)
    maps = RNG.normal(size=(4, 2, 2, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(loss_fn(maps, STUDENT)),
        np.asarray(loss_fn(maps.reshape(4, 12), STUDENT)),
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "loss_fn",
    [relational_losses.rkd_loss, relational_losses.pkt_loss],
    ids=["rkd", "pkt"],
)
@pytest.mark.parametrize(
    "teacher, student",
    [
        (np.zeros((4, 3)), np.zeros((4, 2))),  # constant: no relations
        (np.ones((4, 3)), np.ones((4, 2))),
        (TEACHER, np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])),
        (TEACHER[:1], STUDENT[:1]),  # one example
    ],
)
def test_values_and_gradients_are_finite(loss_fn, teacher, student, mean_gradient):
    teacher, student = teacher.astype("float32"), student.astype("float32")
    value = np.asarray(loss_fn(teacher, student))
    assert value.shape == (len(student),) and np.isfinite(value).all()
    assert np.isfinite(mean_gradient(lambda s: loss_fn(teacher, s), student)).all()
    if np.all(student == student[0]) and np.all(teacher == teacher[0]):
        np.testing.assert_allclose(value, 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "loss_fn",
    [relational_losses.rkd_loss, relational_losses.pkt_loss],
    ids=["rkd", "pkt"],
)
def test_shapes_are_checked(loss_fn):
    with pytest.raises(ValueError, match="the same batch size"):
        loss_fn(TEACHER, STUDENT[:3])
    with pytest.raises(
        ValueError, match=r"Received: teacher_embeddings of shape \(4,\)"
    ):
        loss_fn(TEACHER[:, 0], STUDENT)


def _methods():
    return [
        kdkeras.losses.RelationalKD(
            "t", "s", weight=2.0, distance_weight=1.0, angle_weight=2.0, name="rkd"
        ),
        kdkeras.losses.ProbabilisticKT("t", "s", weight=0.5, name="pkt"),
    ]


@pytest.mark.parametrize("method", _methods(), ids=["rkd", "pkt"])
def test_config_round_trips(method):
    config = method.get_config()
    rebuilt = type(method).from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    serialized = keras.saving.serialize_keras_object(method)
    assert serialized["registered_name"] == f"kdkeras>{type(method).__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is type(method)
    assert restored.get_config() == config
    assert kdkeras.losses.get(serialized).get_config() == config


def test_registered_as_feature_methods():
    kinds = kdkeras.losses.registered_kinds()
    assert (kinds["rkd"], kinds["pkt"]) == ("features", "features")
    rkd = kdkeras.losses.get("rkd", teacher_layer="t_embedding", student_layer="s_emb")
    assert isinstance(rkd, kdkeras.losses.RelationalKD)
    assert (rkd.weight, rkd.distance_weight, rkd.angle_weight) == (1.0, 25.0, 50.0)
    pkt = kdkeras.losses.get("pkt", teacher_layer="t", student_layer="s", weight=3.0)
    assert isinstance(pkt, kdkeras.losses.ProbabilisticKT) and pkt.weight == 3.0


def test_the_method_layers_compute_the_functions():
    rkd, pkt = _methods()
    for method in (rkd, pkt):
        method.build((TEACHER.shape, STUDENT.shape))
    np.testing.assert_allclose(
        np.asarray(rkd.loss(TEACHER, STUDENT)),
        np.array(_distance_by_hand(TEACHER, STUDENT))
        + 2.0 * np.array(_angle_by_hand(TEACHER, STUDENT)),
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        np.asarray(pkt.loss(TEACHER, STUDENT)),
        _pkt_by_hand(TEACHER, STUDENT),
        rtol=1e-4,
    )


def test_bad_arguments_are_refused():
    with pytest.raises(
        ValueError, match=r"`angle_weight` must be a finite number in \[0, inf\]"
    ):
        kdkeras.losses.RelationalKD("t", "s", angle_weight=-1.0)
    with pytest.raises(TypeError, match="Received: distance_weight='25'"):
        kdkeras.losses.RelationalKD("t", "s", distance_weight="25")
    with pytest.raises(TypeError, match="`teacher_layer` must be a layer name"):
        kdkeras.losses.ProbabilisticKT(None, "s")
    with pytest.raises(ValueError, match="`weight` must be ≥ 0"):
        kdkeras.losses.ProbabilisticKT("t", "s", weight=-2.0)
    with pytest.raises(ValueError, match="`ProbabilisticKT` compares embeddings"):
        kdkeras.losses.ProbabilisticKT("t", "s").build(((None,), (None, 4)))


def _mlp(width, seed, name):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    x = keras.layers.Dense(width, activation="relu", name=f"{name}_embedding")(inputs)
    return keras.Model(inputs, keras.layers.Dense(10, name=f"{name}_logits")(x))


@pytest.mark.parametrize(
    "method, loss_fn, weight",
    [
        (kdkeras.losses.RelationalKD, relational_losses.rkd_loss, 2.0),
        # PKT's values are small here (1e-3 to 1e-2): weighted up, it outweighs the
        # cross-entropy's pull on the embedding.
        (kdkeras.losses.ProbabilisticKT, relational_losses.pkt_loss, 50.0),
    ],
    ids=["rkd", "pkt"],
)
def test_distiller_trains_the_penultimate_layer(digits, method, loss_fn, weight):
    x, y = digits[0][:64].reshape(64, -1), digits[1][:64]
    teacher, student = _mlp(32, 1, "teacher"), _mlp(8, 2, "student")
    embeddings = [
        keras.Model(model.inputs, model.get_layer(f"{name}_embedding").output)
        for model, name in ((teacher, "teacher"), (student, "student"))
    ]
    teacher_embeddings, student_embeddings = (
        model.predict(x, verbose=0) for model in embeddings
    )
    distiller = kdkeras.Distiller(
        teacher,
        student,
        features=[method("teacher_embedding", "student_embedding", weight=weight)],
    )
    distiller.compile(optimizer=keras.optimizers.Adam(0.01), alpha=0.5)
    # One batch, the same at every step (the loss depends on the batch).
    logs = distiller.fit(
        x, y, batch_size=64, epochs=8, shuffle=False, verbose=0
    ).history["feature_loss"]
    # The first step's feature loss, before any update, by the function.
    expected = weight * np.mean(loss_fn(teacher_embeddings, student_embeddings))
    np.testing.assert_allclose(logs[0], expected, rtol=1e-4)
    assert np.isfinite(logs).all()
    assert logs[-1] < logs[0]
