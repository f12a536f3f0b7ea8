import os

import keras
import numpy as np
import pytest

from kdkeras import augmentation, caches

PLAN = augmentation.AugmentationPlan(shift=1, horizontal_flip=True, seed=0)


class Log:
    """Records `log(format, *arguments)` calls as formatted lines."""

    def __init__(self):
        self.lines = []

    def __call__(self, message, *arguments):
        self.lines.append(message % arguments)

    def count(self, text):
        return sum(text in line for line in self.lines)


def predicted(teacher, x):
    inputs = np.asarray(x, dtype="float32")
    return keras.ops.convert_to_numpy(teacher(inputs, training=False))


def test_npz_is_computed_once_then_reused(images, view_teacher, tmp_path):
    x, y = images
    teacher = view_teacher(0)
    path = tmp_path / "teacher.npz"
    log = Log()
    cache = caches.load_or_compute(path, teacher, x, log=log)
    assert isinstance(cache, caches.LogitCache)
    np.testing.assert_allclose(cache.teacher_logits, predicted(teacher, x), atol=1e-5)
    assert (cache.epochs, cache.steps_per_epoch(40, 16)) == (1, 3)
    written = os.stat(path).st_mtime_ns

    again = caches.load_or_compute(path, teacher, x, log=log)
    np.testing.assert_array_equal(again.teacher_logits, cache.teacher_logits)
    assert os.stat(path).st_mtime_ns == written
    assert log.count("computing the teacher's outputs") == 1

    features, (labels, teacher_logits) = next(iter(cache.dataset(x, y, 40, False)))
    np.testing.assert_array_equal(features, x)
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(teacher_logits, cache.teacher_logits)


def test_another_teacher_other_data_or_damage_recompute(images, view_teacher, tmp_path):
    x, _ = images
    path = tmp_path / "teacher.npz"
    caches.load_or_compute(path, view_teacher(0), x)
    log = Log()
    other_teacher = view_teacher(1)
    cache = caches.load_or_compute(path, other_teacher, x, log=log)
    assert log.count("is stale (The cache") == 1
    assert "made by another teacher" in log.lines[0]
    np.testing.assert_allclose(
        cache.teacher_logits, predicted(other_teacher, x), atol=1e-5
    )

    cache = caches.load_or_compute(path, other_teacher, x[:30], log=log)
    assert log.count("made for other data than `x`") == 1
    assert cache.teacher_logits.shape == (30, 4)

    with open(path, "r+b") as file:
        file.truncate(20)
    caches.load_or_compute(path, other_teacher, x[:30], log=log)
    assert log.count("is unreadable") == 1
    assert log.count("computing the teacher's outputs") == 3


def test_directory_is_a_sharded_cache(images, view_teacher, tmp_path):
    x, y = images
    teacher = view_teacher(0)
    directory = tmp_path / "shards"
    cache = caches.load_or_compute(directory, teacher, x, batch_size=16, top_k=2)
    assert isinstance(cache, caches.ShardedLogitCache)
    assert (cache.epochs, cache.top_k, cache.num_samples) == (1, 2, 40)
    assert cache.manifest["num_batches"] == 3
    reopened = caches.load_or_compute(directory, teacher, x, batch_size=16, top_k=2)
    assert reopened.manifest == cache.manifest
    rows = [
        (features, teacher_logits)
        for features, (_, teacher_logits) in cache.dataset(x, y, shuffle=False)
    ]
    assert [len(features) for features, _ in rows] == [16, 16, 8]
    stored = np.concatenate([teacher_logits for _, teacher_logits in rows])
    expected = predicted(teacher, x)
    # Top-2: the two largest logits of each row are kept exactly.
    top = np.argsort(expected, axis=1)[:, -2:]
    np.testing.assert_allclose(
        np.take_along_axis(stored, top, 1), np.take_along_axis(expected, top, 1), 1e-5
    )
    log = Log()
    full = caches.load_or_compute(directory, teacher, x, batch_size=16, log=log)
    assert log.count("holds top_k=2, not None") == 1 and full.top_k is None


@pytest.mark.parametrize("name", ["augmented.npz", "augmented"])
def test_augmented_caches_are_reused_for_the_same_plan_and_epochs(
    images, view_teacher, tmp_path, name
):
    x, y = images
    teacher = view_teacher(0)
    path = tmp_path / name
    expected_type = (
        caches.AugmentedLogitCache
        if name.endswith(".npz")
        else caches.ShardedAugmentedCache
    )
    cache = caches.load_or_compute(path, teacher, x, plan=PLAN, epochs=2)
    assert isinstance(cache, expected_type)
    assert (cache.epochs, cache.plan) == (2, PLAN)
    log = Log()
    again = caches.load_or_compute(path, teacher, x, plan=PLAN, epochs=2, log=log)
    assert isinstance(again, expected_type) and log.lines == []
    images_batch, (_, teacher_logits) = next(iter(again.dataset(x, y, 8)))
    np.testing.assert_allclose(
        teacher_logits, predicted(teacher, images_batch), atol=1e-5
    )

    three = caches.load_or_compute(path, teacher, x, plan=PLAN, epochs=3, log=log)
    assert three.epochs == 3
    assert log.count("holds other augmentations or epochs") == 1
    plain_path = tmp_path / ("plain.npz" if name.endswith(".npz") else "plain")
    caches.load_or_compute(plain_path, teacher, x)
    caches.load_or_compute(plain_path, teacher, x, plan=PLAN, epochs=1, log=log)
    assert log.count("holds other augmentations or epochs") == 2


def test_open_cache_reads_every_format_and_refuses_foreign_ones(
    images, view_teacher, tmp_path
):
    x, _ = images
    teacher = view_teacher(0)
    paths = {
        caches.LogitCache: tmp_path / "a.npz",
        caches.ShardedLogitCache: tmp_path / "b",
        caches.AugmentedLogitCache: tmp_path / "c.npz",
        caches.ShardedAugmentedCache: tmp_path / "d",
    }
    for cache_type, path in paths.items():
        augmented = cache_type in (
            caches.AugmentedLogitCache,
            caches.ShardedAugmentedCache,
        )
        plan = dict(plan=PLAN, epochs=1) if augmented else {}
        caches.load_or_compute(path, teacher, x, **plan)
        fingerprint = caches.fingerprint_teacher(teacher)
        opened = caches.open_cache(path, x, teacher_fingerprint=fingerprint)
        assert type(opened) is cache_type
        assert isinstance(opened, caches.TeacherOutputCache)
        with pytest.raises(caches.StaleCacheError, match="another teacher"):
            caches.open_cache(path, x, view_teacher(1))
        with pytest.raises(caches.StaleCacheError, match="other data than"):
            caches.open_cache(path, x[:-1], allow_any_teacher=True)
        with pytest.raises(ValueError, match="exactly one of `teacher`"):
            caches.open_cache(path, x)
    with pytest.raises(FileNotFoundError, match="No cache at"):
        caches.open_cache(tmp_path / "missing.npz", x, teacher)


def test_bad_arguments_are_refused_before_any_teacher_runs(images, tmp_path):
    x, _ = images
    with pytest.raises(ValueError, match="`plan` and `epochs` go together"):
        caches.load_or_compute(tmp_path / "a.npz", "never-run", x, plan=PLAN)
    with pytest.raises(ValueError, match="`top_k` needs a sharded cache"):
        caches.load_or_compute(tmp_path / "a.npz", "never-run", x, top_k=3)
    assert os.listdir(tmp_path) == []
