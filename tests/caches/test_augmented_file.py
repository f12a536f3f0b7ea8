import keras
import numpy as np
import pytest

from kdkeras import augmentation, caches
from kdkeras.caches import augmented_file

PLAN = augmentation.AugmentationPlan(
    shift=2, horizontal_flip=True, mixup_alpha=0.4, cutmix_alpha=1.0, seed=7
)


def test_replay_the_student_gets_the_views_the_teacher_saw(
    images, assert_logits_are_the_teachers, view_teacher, tmp_path
):
    x, y = images
    teacher = view_teacher()
    path = tmp_path / "augmentation.npz"
    augmented_file.cache_augmented_logits(
        teacher, x, path, PLAN, epochs=3, batch_size=16
    )
    cache = augmented_file.load_augmented_logits(path, x, teacher=teacher)
    assert (cache.epochs, cache.num_samples, cache.num_classes) == (3, 40, 4)
    assert cache.plan == PLAN
    batches = list(cache.dataset(x, y, batch_size=16, seed=5).as_numpy_iterator())
    assert len(batches) == 3 * cache.steps_per_epoch(40, 16)
    assert_logits_are_the_teachers(teacher, batches)
    # Mixed views are among them: not every view equals a shifted/flipped image.
    assert (cache.parameters["partner"] != np.arange(40)).any()


def test_distiller_trains_from_the_views_for_the_stored_epochs(
    images, assert_student_trains_on_views, view_teacher, tmp_path
):
    x, y = images
    cache = augmented_file.cache_augmented_logits(
        view_teacher(), x, tmp_path / "v.npz", PLAN, epochs=2, batch_size=16
    )
    student = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )
    assert_student_trains_on_views(student, cache, x, y, alpha=0.0)


def test_top_k_cache_round_trip_and_size(images, view_teacher, tmp_path):
    x, _ = images
    teacher = view_teacher()
    full = augmented_file.compute_augmented_logits(teacher, x, PLAN, epochs=2)
    path = tmp_path / "top2.npz"
    returned = augmented_file.cache_augmented_logits(
        teacher, x, path, PLAN, epochs=2, top_k=2
    )
    loaded = augmented_file.load_augmented_logits(path, x, teacher=teacher)
    assert loaded.top_k == returned.top_k == 2
    np.testing.assert_array_equal(loaded.teacher_logits, returned.teacher_logits)
    top = np.argsort(-full.teacher_logits, axis=-1)[..., :2]
    np.testing.assert_allclose(
        np.take_along_axis(loaded.teacher_logits, top, -1),
        np.take_along_axis(full.teacher_logits, top, -1),
    )
    assert (
        loaded.bytes_per_augmented_image() == 6 * 2 + 4
    )  # 2 logits, 2 int16 ids, 1 float
    assert full.bytes_per_augmented_image() == 4 * 4  # 4 classes x 4 bytes


def test_stale_and_foreign_caches_are_refused(images, view_teacher, tmp_path):
    x, _ = images
    path = tmp_path / "v.npz"
    augmented_file.cache_augmented_logits(view_teacher(0), x, path, PLAN, epochs=1)
    with pytest.raises(caches.StaleCacheError, match="other data than `x`"):
        augmented_file.load_augmented_logits(path, x[::-1], allow_any_teacher=True)
    with pytest.raises(caches.StaleCacheError, match="another teacher"):
        augmented_file.load_augmented_logits(path, x, teacher=view_teacher(1))
    logits_path = tmp_path / "logits.npz"
    caches.cache_teacher_logits(view_teacher(0), x, logits_path)
    with pytest.raises(ValueError, match="not a kdkeras augmented-view cache"):
        augmented_file.load_augmented_logits(logits_path, x, allow_any_teacher=True)
    with pytest.raises(ValueError, match="`load_augmented_logits` needs exactly one"):
        augmented_file.load_augmented_logits(path, x)
    fingerprint = caches.fingerprint_teacher(view_teacher(0))
    cache = augmented_file.load_augmented_logits(
        path, x, teacher_fingerprint=fingerprint
    )
    assert cache.epochs == 1
    with pytest.raises(FileExistsError):
        augmented_file.cache_augmented_logits(view_teacher(0), x, path, PLAN, epochs=1)


def test_bad_arguments_are_refused_before_the_teacher_runs(
    images, view_teacher, tmp_path
):
    x, _ = images
    with pytest.raises(TypeError, match="`plan` must be a `AugmentationPlan`"):
        augmented_file.compute_augmented_logits(
            view_teacher(), x, {"shift": 2}, epochs=1
        )
    with pytest.raises(ValueError, match="epochs"):
        augmented_file.compute_augmented_logits(view_teacher(), x, PLAN, epochs=0)
    with pytest.raises(ValueError, match="top_k"):
        augmented_file.cache_augmented_logits(
            view_teacher(), x, tmp_path / "a.npz", PLAN, 1, top_k=0
        )
    assert not (tmp_path / "a.npz").exists()
