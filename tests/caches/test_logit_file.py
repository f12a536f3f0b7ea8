import keras
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import kdkeras
from kdkeras import caches


def test_cache_round_trip_and_fingerprints(small_cnn, digits, tmp_path):
    x, _ = digits
    teacher = small_cnn(seed=1)
    path = tmp_path / "teacher.npz"
    logits = caches.cache_teacher_logits(teacher, x, path)
    np.testing.assert_allclose(logits, teacher.predict(x, verbose=0), atol=1e-6)
    with np.load(path, allow_pickle=False) as stored:
        assert {"teacher_logits", "teacher_fingerprint", "data_fingerprint"} <= set(
            stored.files
        )
    loaded = caches.load_teacher_logits(path, x, teacher=teacher)
    np.testing.assert_array_equal(loaded, logits)


def test_stale_cache_for_other_data_is_refused(small_cnn, digits, tmp_path):
    x, _ = digits
    path = tmp_path / "teacher.npz"
    caches.cache_teacher_logits(small_cnn(seed=1), x, path)
    changed = x.copy()
    changed[0, 0, 0, 0] += 0.5
    with pytest.raises(caches.StaleCacheError, match="other data than `x`"):
        caches.load_teacher_logits(path, changed, allow_any_teacher=True)


def test_stale_cache_from_another_teacher_is_refused(small_cnn, digits, tmp_path):
    x, _ = digits
    path = tmp_path / "teacher.npz"
    caches.cache_teacher_logits(small_cnn(seed=1), x, path)
    with pytest.raises(caches.StaleCacheError, match="another teacher"):
        caches.load_teacher_logits(path, x, teacher=small_cnn(seed=2))


def test_loading_says_which_teacher_the_cache_must_come_from(
    small_cnn, digits, tmp_path
):
    x = digits[0][:20]
    path = tmp_path / "teacher.npz"
    teacher, other = small_cnn(seed=1), small_cnn(seed=2)
    logits = caches.cache_teacher_logits(teacher, x, path)
    # As the README once showed it: no teacher, so any cache would load.
    with pytest.raises(ValueError, match="needs exactly one of `teacher`.*none"):
        caches.load_teacher_logits(path, x)
    fingerprint = caches.fingerprint_teacher(teacher)
    np.testing.assert_array_equal(
        caches.load_teacher_logits(path, x, teacher_fingerprint=fingerprint), logits
    )
    with pytest.raises(caches.StaleCacheError, match="another teacher"):
        caches.load_teacher_logits(
            path, x, teacher_fingerprint=caches.fingerprint_teacher(other)
        )
    np.testing.assert_array_equal(
        caches.load_teacher_logits(path, x, allow_any_teacher=True), logits
    )
    with pytest.raises(ValueError, match="exactly one.*teacher=.*allow_any_teacher"):
        caches.load_teacher_logits(path, x, teacher=other, allow_any_teacher=True)
    with pytest.raises(ValueError, match="64 hexadecimal.*'abc'"):
        caches.load_teacher_logits(path, x, teacher_fingerprint="abc")


def test_existing_cache_is_not_overwritten_unless_asked(small_cnn, digits, tmp_path):
    x, _ = digits
    path = tmp_path / "teacher.npz"
    caches.cache_teacher_logits(small_cnn(seed=1), x[:10], path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        caches.cache_teacher_logits(small_cnn(seed=2), x[:10], path)
    caches.cache_teacher_logits(small_cnn(seed=2), x[:10], path, overwrite=True)
    caches.load_teacher_logits(path, x[:10], teacher=small_cnn(seed=2))


def test_failed_write_leaves_no_file(digits, tmp_path, monkeypatch):
    x, _ = digits

    def failing_save(file, **arrays):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", failing_save)
    with pytest.raises(OSError, match="disk full"):
        caches.save_teacher_logits(tmp_path / "t.npz", np.zeros((10, 3)), x[:10], "id")
    assert list(tmp_path.iterdir()) == []


def test_softmax_teacher_is_stored_as_logits(small_cnn, digits):
    x, _ = digits
    teacher = small_cnn(seed=1, activation="softmax")
    logits = caches.compute_teacher_logits(teacher, x[:20])
    probabilities = teacher.predict(x[:20], verbose=0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.softmax(logits)), probabilities, atol=1e-5
    )


def test_save_refuses_misshapen_or_non_finite_logits(digits, tmp_path):
    x, _ = digits
    with pytest.raises(ValueError, match="one row per sample"):
        caches.save_teacher_logits(tmp_path / "a.npz", np.zeros((5, 10)), x, "id")
    bad = np.zeros((len(x), 10))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="must be finite"):
        caches.save_teacher_logits(tmp_path / "b.npz", bad, x, "id")


def test_distill_a_scikit_learn_teacher_offline(digits, tmp_path):
    x, y = digits
    flat = x.reshape(len(x), -1)
    teacher = LogisticRegression(max_iter=500).fit(flat[:1200], y[:1200])
    path = tmp_path / "sklearn.npz"
    teacher_logits = caches.cache_teacher_logits(teacher, flat[:1200], path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.ops.softmax(teacher_logits)),
        teacher.predict_proba(flat[:1200]),
        atol=1e-5,
    )
    teacher_logits = caches.load_teacher_logits(path, flat[:1200], teacher=teacher)
    keras.utils.set_random_seed(0)
    student = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    distiller = kdkeras.Distiller(teacher=None, student=student)
    distiller.compile(optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"])
    dataset = caches.offline_dataset(
        flat[:1200], y[:1200], teacher_logits, batch_size=64, seed=0
    )
    distiller.fit(dataset, epochs=5, verbose=0)
    results = distiller.evaluate(flat[1200:], y[1200:], verbose=0, return_dict=True)
    assert results["accuracy"] > 0.85


def test_offline_dataset_structure_and_checks(digits):
    x, y = digits
    logits = np.zeros((len(x), 10), "float32")
    dataset = caches.offline_dataset(x, y, logits, batch_size=7, shuffle=False)
    batch_x, (batch_y, batch_logits) = next(iter(dataset))
    assert batch_x.shape == (7, 8, 8, 1)
    assert batch_y.shape == (7,) and batch_logits.shape == (7, 10)
    np.testing.assert_array_equal(batch_y, y[:7])
    with pytest.raises(ValueError, match=r"len\(teacher_logits\)=3"):
        caches.offline_dataset(x, y, logits[:3])


def test_offline_dataset_turns_autotuning_off(digits):
    # TF 2.21's autotuner can stall `fit` at the end of an epoch.
    x, y = digits
    dataset = caches.offline_dataset(x, y, np.zeros((len(x), 10), "float32"))
    assert dataset.options().autotune.enabled is False


def test_fingerprints():
    a = np.arange(12, dtype="float32").reshape(3, 4)
    assert caches.fingerprint_data(a) == caches.fingerprint_data(a.copy())
    assert caches.fingerprint_data(a) != caches.fingerprint_data(a.reshape(4, 3))
    assert caches.fingerprint_data(a) != caches.fingerprint_data(a.astype("float64"))
    assert caches.fingerprint_teacher("expert-v1") != caches.fingerprint_teacher(
        "expert-v2"
    )
    with pytest.raises(TypeError, match="picklable"):
        caches.fingerprint_teacher(lambda x: x)


def test_truncated_or_foreign_cache_files_give_a_clear_error(
    small_cnn, digits, tmp_path
):
    x, _ = digits
    path = tmp_path / "teacher.npz"
    caches.cache_teacher_logits(small_cnn(seed=1), x[:50], path)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    foreign = tmp_path / "foreign.npz"
    foreign.write_bytes(b"not a cache at all" * 10)
    single_array = tmp_path / "array.npy"
    np.save(single_array, np.zeros((50, 10), "float32"))
    for bad in (truncated, foreign):
        with pytest.raises(ValueError, match="is not a kdkeras teacher-logits cache"):
            caches.load_teacher_logits(bad, x[:50], allow_any_teacher=True)
    with pytest.raises(ValueError, match="holds one array"):
        caches.load_teacher_logits(single_array, x[:50], allow_any_teacher=True)
    with pytest.raises(FileNotFoundError):
        caches.load_teacher_logits(
            tmp_path / "missing.npz", x[:50], allow_any_teacher=True
        )
