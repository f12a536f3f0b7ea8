"""Teacher features stored beside the logits in a `.npz` cache
(`load_or_compute(..., feature_layers=...)`), read back as the cache's
`teacher_features`, and trained from offline."""

import keras
import numpy as np
import pytest
from model_helpers import embedding_mlp

import kdkeras
from kdkeras import caches

NUM_EXAMPLES = 120
LAYER = "teacher_embedding"


@pytest.fixture
def digit_rows(digits):
    x, y = digits
    return x[:NUM_EXAMPLES].reshape(NUM_EXAMPLES, -1), y[:NUM_EXAMPLES]


@pytest.fixture
def teacher():
    return embedding_mlp(32, 1, "teacher")


def test_the_cache_holds_the_logits_and_features_of_one_pass(
    digit_rows, teacher, tmp_path
):
    x, _ = digit_rows
    path = tmp_path / "teacher.npz"
    cache = caches.load_or_compute(path, teacher, x, feature_layers=[LAYER])
    dense = teacher.get_layer(LAYER)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in dense.weights)
    embedding = np.maximum(x @ kernel + bias, 0.0)
    np.testing.assert_allclose(cache.teacher_features[LAYER], embedding, atol=1e-5)
    np.testing.assert_allclose(
        cache.teacher_logits, teacher.predict(x, verbose=0), atol=1e-5
    )
    assert cache.teacher_feature_shapes == {LAYER: (32,)}
    # Read back, from another process's point of view: the file holds both.
    reopened = caches.open_cache(path, x, teacher)
    np.testing.assert_array_equal(
        reopened.teacher_features[LAYER], cache.teacher_features[LAYER]
    )
    np.testing.assert_array_equal(reopened.teacher_logits, cache.teacher_logits)
    # The logits-only readers still read it.
    np.testing.assert_array_equal(
        caches.load_teacher_logits(path, x, teacher), cache.teacher_logits
    )


def test_a_cache_without_the_layers_is_recomputed_and_one_with_them_reused(
    digit_rows, teacher, tmp_path
):
    x, _ = digit_rows
    path = tmp_path / "teacher.npz"
    logits_only = caches.load_or_compute(path, teacher, x)
    assert logits_only.teacher_features is None
    assert logits_only.teacher_feature_shapes is None
    said = []
    cache = caches.load_or_compute(
        path, teacher, x, feature_layers=LAYER, log=lambda *a: said.append(a[0] % a[1:])
    )
    assert sorted(cache.teacher_features) == [LAYER]
    assert any("holds the features of the teacher layers [], not" in s for s in said)
    # Asked again, for the same layer or for none, it is read, not recomputed.
    modified = path.stat().st_mtime_ns
    said.clear()
    for layers in ([LAYER], None):
        again = caches.load_or_compute(
            path,
            teacher,
            x,
            feature_layers=layers,
            log=lambda *a: said.append(a[0] % a[1:]),
        )
        np.testing.assert_array_equal(
            again.teacher_features[LAYER], cache.teacher_features[LAYER]
        )
    assert said == [] and path.stat().st_mtime_ns == modified
    # Another layer as well: recomputed with both.
    both = caches.load_or_compute(
        path, teacher, x, feature_layers=[LAYER, "teacher_logits"]
    )
    assert sorted(both.teacher_features) == sorted([LAYER, "teacher_logits"])


def test_an_offline_feature_method_trains_from_the_cache(digit_rows, teacher, tmp_path):
    """RKD and CRD (with each example's index) from the cache alone."""
    x, y = digit_rows
    cache = caches.load_or_compute(
        tmp_path / "teacher.npz", teacher, x, feature_layers=[LAYER]
    )
    pair = dict(teacher_layer=LAYER, student_layer="student_embedding")
    for method, example_index in (
        (kdkeras.losses.get("rkd", **pair), False),
        (
            kdkeras.losses.ContrastiveRepresentation(
                **pair, num_examples=NUM_EXAMPLES, embedding_dim=8, seed=0
            ),
            True,
        ),
    ):
        distiller = kdkeras.Distiller(
            None,
            embedding_mlp(8, 2, "student"),
            features=[method],
            teacher_feature_shapes=cache.teacher_feature_shapes,
        )
        distiller.compile(optimizer=keras.optimizers.SGD(0.05), alpha=0.5)
        history = distiller.fit(
            cache.dataset(x, y, batch_size=40, seed=0, example_index=example_index),
            epochs=2,
            verbose=0,
        )
        feature_loss = history.history["feature_loss"]
        assert len(feature_loss) == 2 and np.all(np.isfinite(feature_loss))
        assert feature_loss[0] > 0


def test_feature_layers_errors(digit_rows, teacher, tmp_path):
    x, _ = digit_rows
    for bad in ([], [""], [3], 3):
        with pytest.raises(ValueError, match="`feature_layers` must name one or more"):
            caches.load_or_compute(tmp_path / "t.npz", teacher, x, feature_layers=bad)
    with pytest.raises(ValueError, match="`feature_layers` needs a `.npz` cache"):
        caches.load_or_compute(tmp_path / "shards", teacher, x, feature_layers=LAYER)
    with pytest.raises(ValueError, match="has no layer named 'pool'"):
        caches.load_or_compute(tmp_path / "t.npz", teacher, x, feature_layers="pool")
    assert not (tmp_path / "t.npz").exists()
    with pytest.raises(TypeError, match="need a Keras teacher"):
        caches.cache_teacher_logits(
            "an id", x, tmp_path / "t.npz", feature_layers=[LAYER]
        )
    logits = caches.compute_teacher_logits(teacher, x)
    with pytest.raises(ValueError, match=r"`teacher_features\['pool'\]` must have one"):
        caches.save_teacher_logits(
            tmp_path / "t.npz",
            logits,
            x,
            teacher,
            teacher_features={"pool": np.zeros((3, 4), "float32")},
        )
    assert not (tmp_path / "t.npz").exists()
