"""Feature methods trained offline: the teacher's features stored once
(`kdkeras.caches.compute_teacher_features`) and read from the targets by a
`Distiller(teacher=None, features=[...], teacher_feature_shapes=...)`."""

import keras
import numpy as np
import pytest
from model_helpers import embedding_mlp

import kdkeras
from kdkeras import caches
from kdkeras.distillation import Hint

NUM_EXAMPLES = 96


def _data(digits, count=NUM_EXAMPLES):
    x, y = digits
    return x[:count].reshape(count, -1), y[:count]


def _methods(kind):
    """Fresh feature methods between the two embedding layers."""
    pair = dict(teacher_layer="teacher_embedding", student_layer="student_embedding")
    if kind == "crd":
        return [
            kdkeras.losses.ContrastiveRepresentation(
                **pair,
                num_examples=NUM_EXAMPLES,
                embedding_dim=16,
                num_negatives=32,
                seed=0,
            )
        ]
    return [
        kdkeras.losses.get("rkd", **pair),
        kdkeras.losses.get("pkt", **pair, weight=2.0),
        Hint(**pair, weight=0.5),
    ]


def _pair_of_distillers(kind):
    """An online Distiller and an offline twin with the same weights."""
    teacher = embedding_mlp(32, 1, "teacher")
    online = kdkeras.Distiller(
        teacher, embedding_mlp(8, 2, "student"), features=_methods(kind)
    )
    offline = kdkeras.Distiller(
        None,
        embedding_mlp(8, 2, "student"),
        features=_methods(kind),
        teacher_feature_shapes={"teacher_embedding": (32,)},
    )
    for online_method, offline_method in zip(
        online.features, offline.features, strict=True
    ):
        offline_method.set_weights(online_method.get_weights())
    for distiller in (online, offline):
        distiller.compile(optimizer=keras.optimizers.SGD(0.05), alpha=0.5)
    return teacher, online, offline


def test_compute_teacher_features_returns_the_named_layers_outputs(digits):
    x, _ = _data(digits)
    teacher = embedding_mlp(32, 1, "teacher")
    stored = caches.compute_teacher_features(
        teacher, x, ["teacher_embedding", "teacher_logits"], batch_size=40
    )
    assert list(stored) == ["teacher_embedding", "teacher_logits"]
    dense = teacher.get_layer("teacher_embedding")
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in dense.weights)
    np.testing.assert_allclose(
        stored["teacher_embedding"], np.maximum(x @ kernel + bias, 0.0), atol=1e-5
    )
    np.testing.assert_allclose(
        stored["teacher_logits"], teacher.predict(x, verbose=0), atol=1e-5
    )
    assert stored["teacher_embedding"].dtype == np.float32
    # One name is a list of one.
    single = caches.compute_teacher_features(teacher, x, "teacher_embedding")
    np.testing.assert_allclose(
        single["teacher_embedding"], stored["teacher_embedding"], atol=1e-6
    )


@pytest.mark.parametrize("kind", ["relations", "crd"])
def test_offline_features_train_as_the_online_ones(digits, kind):
    """Same weights, same batches: the offline run's losses and weights are
    the online run's (RKD, PKT and a hint; CRD with its example indices)."""
    x, y = _data(digits)
    teacher, online, offline = _pair_of_distillers(kind)
    teacher_logits = caches.compute_teacher_logits(teacher, x)
    stored = caches.compute_teacher_features(teacher, x, "teacher_embedding")
    dataset = caches.offline_dataset(
        x,
        y,
        teacher_logits,
        batch_size=32,
        shuffle=False,
        teacher_features=stored,
        example_index=kind == "crd",
    )
    online_logs = online.fit(
        x, y, batch_size=32, epochs=2, shuffle=False, verbose=0
    ).history
    offline_logs = offline.fit(dataset, epochs=2, verbose=0).history
    for key in ("loss", "student_loss", "distillation_loss", "feature_loss"):
        np.testing.assert_allclose(offline_logs[key], online_logs[key], rtol=1e-4)
    assert online_logs["feature_loss"][0] > 0.0
    for offline_weight, online_weight in zip(
        offline.student.weights, online.student.weights, strict=True
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(offline_weight),
            keras.ops.convert_to_numpy(online_weight),
            rtol=1e-4,
            atol=1e-6,
        )


def test_an_offline_distiller_round_trips_its_config_and_file(digits, tmp_path):
    x, y = _data(digits)
    teacher, _, offline = _pair_of_distillers("relations")
    config = offline.get_config()
    assert config["teacher"] is None
    assert config["teacher_feature_shapes"] == {"teacher_embedding": [32]}
    rebuilt = kdkeras.Distiller.from_config(config)
    assert rebuilt.teacher_feature_shapes == {"teacher_embedding": (32,)}
    assert [type(f).__name__ for f in rebuilt.features] == [
        type(f).__name__ for f in offline.features
    ]

    stored = caches.compute_teacher_features(teacher, x, ["teacher_embedding"])
    dataset = caches.offline_dataset(
        x,
        y,
        caches.compute_teacher_logits(teacher, x),
        batch_size=32,
        teacher_features=stored,
    )
    offline.fit(dataset, verbose=0)
    path = tmp_path / "offline.keras"
    offline.save(path)
    restored = keras.saving.load_model(path)
    assert restored.teacher_feature_shapes == {"teacher_embedding": (32,)}
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored.features[2].projection.kernel),
        keras.ops.convert_to_numpy(offline.features[2].projection.kernel),
    )
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), offline.predict(x, verbose=0), rtol=1e-6
    )
    restored.fit(dataset, verbose=0)


def test_constructor_errors_name_the_argument():
    student = embedding_mlp(8, 2, "student")
    rkd = kdkeras.losses.get(
        "rkd", teacher_layer="teacher_embedding", student_layer="student_embedding"
    )
    with pytest.raises(ValueError, match=r"needs their shapes.*'teacher_embedding'"):
        kdkeras.Distiller(None, student, features=[rkd])
    with pytest.raises(ValueError, match="a teacher model gives its own layers"):
        kdkeras.Distiller(
            embedding_mlp(32, 1, "teacher"),
            student,
            features=[rkd],
            teacher_feature_shapes={"teacher_embedding": (32,)},
        )
    with pytest.raises(ValueError, match="there are no `features`"):
        kdkeras.Distiller(
            None, student, teacher_feature_shapes={"teacher_embedding": (32,)}
        )
    with pytest.raises(ValueError, match=r"Missing: \['teacher_embedding'\]"):
        kdkeras.Distiller(
            None, student, features=[rkd], teacher_feature_shapes={"pool": (32,)}
        )
    for bad in [(), (0,), (32.0,), "32", (True,)]:
        with pytest.raises(ValueError, match=r"teacher_feature_shapes\['teacher_emb"):
            kdkeras.Distiller(
                None,
                student,
                features=[rkd],
                teacher_feature_shapes={"teacher_embedding": bad},
            )
    with pytest.raises(ValueError, match="must be a dict"):
        kdkeras.Distiller(None, student, features=[rkd], teacher_feature_shapes=[32])
    # NumPy sizes (an array's `.shape[1:]` on some platforms) are sizes too.
    distiller = kdkeras.Distiller(
        None,
        student,
        features=[rkd],
        teacher_feature_shapes={"teacher_embedding": (np.int64(32),)},
    )
    assert distiller.teacher_feature_shapes == {"teacher_embedding": (32,)}


def test_training_without_stored_features_is_refused(digits):
    x, y = _data(digits)
    teacher, _, offline = _pair_of_distillers("relations")
    logits = caches.compute_teacher_logits(teacher, x)
    without = caches.offline_dataset(x, y, logits, batch_size=32)
    with pytest.raises(ValueError, match="must carry the teacher's stored features"):
        offline.fit(without, verbose=0)
    stored = caches.compute_teacher_features(teacher, x, "teacher_embedding")
    renamed = {"pool": stored["teacher_embedding"]}
    other_layer = caches.offline_dataset(
        x, y, logits, batch_size=32, teacher_features=renamed
    )
    # A fresh Distiller: a step that failed while traced (JAX) leaves the
    # first one's variables half-made.
    _, _, offline = _pair_of_distillers("relations")
    with pytest.raises(ValueError, match=r"holding the layers \['teacher_embedding'"):
        offline.fit(other_layer, verbose=0)
    narrower = caches.offline_dataset(
        x,
        y,
        logits,
        batch_size=32,
        teacher_features={"teacher_embedding": stored["teacher_embedding"][:, :16]},
    )
    _, _, offline = _pair_of_distillers("relations")
    with pytest.raises(ValueError, match=r"shape given in `teacher_feature_shapes`"):
        offline.fit(narrower, verbose=0)


def test_offline_dataset_checks_the_stored_features(digits):
    x, y = _data(digits)
    logits = np.zeros((len(x), 10), "float32")
    features = np.ones((len(x), 4), "float32")
    with pytest.raises(ValueError, match=r"teacher_features\['pool'\]` must have one"):
        caches.offline_dataset(x, y, logits, teacher_features={"pool": features[:-1]})
    with pytest.raises(ValueError, match="must be a non-empty dict"):
        caches.offline_dataset(x, y, logits, teacher_features=features)
    with pytest.raises(ValueError, match="must be a non-empty dict"):
        caches.offline_dataset(x, y, logits, teacher_features={})
    bad = features.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"teacher_features\['pool'\]` must be finite"):
        caches.offline_dataset(x, y, logits, teacher_features={"pool": bad})
    with pytest.raises(ValueError, match="2 or more axes"):
        caches.offline_dataset(x, y, logits, teacher_features={"pool": features[:, 0]})
    # The batches: `(x, ((y, logits, {"pool": ...}), index))` with indices.
    dataset = caches.offline_dataset(
        x,
        y,
        logits,
        batch_size=8,
        shuffle=False,
        teacher_features={"pool": features},
        example_index=True,
    )
    batch_x, targets = next(iter(dataset))
    labels, batch_logits, batch_features = targets["targets"]
    np.testing.assert_array_equal(targets["example_index"], np.arange(8))
    np.testing.assert_array_equal(labels, y[:8])
    assert batch_features["pool"].shape == (8, 4)
    assert batch_logits.shape == (8, 10) and batch_x.shape == (8, 64)


def test_compute_teacher_features_errors(digits):
    x, _ = _data(digits)
    teacher = embedding_mlp(32, 1, "teacher")
    for bad in (None, [], [""], [3]):
        with pytest.raises(ValueError, match="`layers` must name one or more"):
            caches.compute_teacher_features(teacher, x, bad)
    with pytest.raises(ValueError, match="has no layer named 'pool'"):
        caches.compute_teacher_features(teacher, x, ["pool"])


def test_numpy_targets_carry_the_stored_features_too(digits):
    """`fit(x, (y, logits, features))` with arrays; CRD's indices are added."""
    x, y = _data(digits)
    teacher, _, offline = _pair_of_distillers("crd")
    logits = caches.compute_teacher_logits(teacher, x)
    stored = caches.compute_teacher_features(teacher, x, "teacher_embedding")
    bank_before = keras.ops.convert_to_numpy(offline.features[0].teacher_bank).copy()
    logs = offline.fit(
        x, (y, logits, stored), batch_size=32, shuffle=False, verbose=0
    ).history
    assert np.isfinite(logs["feature_loss"][0]) and logs["feature_loss"][0] > 0
    bank_after = keras.ops.convert_to_numpy(offline.features[0].teacher_bank)
    # Every row was an example of the epoch: every row moved.
    assert not np.isclose(bank_after, bank_before).all(axis=1).any()
