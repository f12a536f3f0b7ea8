"""The sharded view cache: the teacher's logits of every view replay within
1e-5, full and top-k round trips, per-epoch shards read as a stream, no
half-written cache, and foreign caches refused."""

import json
import os

import keras
import numpy as np
import pytest

import kdkeras
from kdkeras import augmentation, caches
from kdkeras.caches import augmented_file, sharded_logits, topk

PLAN = augmentation.AugmentationPlan(
    shift=2, horizontal_flip=True, mixup_alpha=0.4, cutmix_alpha=1.0, seed=7
)


@pytest.fixture(scope="module")
def teacher(view_teacher):
    return view_teacher()


def epoch_logits(cache, x, y, batch_size=16):
    """The stored logits of each epoch, in image order, `(epochs, N, classes)`."""
    batches = cache.dataset(x, y, batch_size=batch_size, shuffle=False)
    logits = np.concatenate([targets[1] for _, targets in batches.as_numpy_iterator()])
    return logits.reshape(cache.epochs, len(x), -1)


def test_replay_the_student_gets_the_views_the_teacher_saw(
    images, teacher, assert_logits_are_the_teachers, tmp_path
):
    x, y = images
    # 600-byte shards: 2 records of 16 views (256 B) per shard, 2 per epoch.
    cache = augmented_file.cache_augmented_logits(
        teacher, x, tmp_path / "views", PLAN, epochs=3, batch_size=16, shard_size=600
    )
    manifest = cache.manifest
    assert manifest["kind"] == "views" and manifest["num_batches"] == 3 * 3
    assert [shard["group"] for shard in manifest["shards"]] == [0, 0, 1, 1, 2, 2]
    assert [shard["records"] for shard in manifest["shards"]] == [2, 1] * 3
    loaded = augmented_file.load_augmented_logits(
        tmp_path / "views", x, teacher=teacher
    )
    assert isinstance(loaded, kdkeras.caches.sharded_augmented.ShardedAugmentedCache)
    assert (loaded.epochs, loaded.num_samples, loaded.num_classes) == (3, 40, 4)
    assert loaded.plan == PLAN
    dataset = loaded.dataset(x, y, batch_size=16, seed=5, shuffle_buffer=25)
    assert int(dataset.cardinality()) == 3 * loaded.steps_per_epoch(40, 16)
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == 9
    in_order = epoch_logits(loaded, x, y)[0, :16]
    assert not np.allclose(batches[0][1][1], in_order)  # shuffled
    assert_logits_are_the_teachers(teacher, batches)
    # The stored parameters are the plan's draw, epoch by epoch; views mix.
    drawn = PLAN.draw(40, (8, 8), 3)
    for epoch in range(3):
        stored = loaded.epoch_parameters(epoch)
        for name in augmentation.PARAMETER_NAMES:
            np.testing.assert_array_equal(stored[name], drawn[name][epoch])
    assert (drawn["partner"] != np.arange(40)).any()


def test_full_and_top_k_round_trips_match_the_in_memory_cache(
    images, teacher, tmp_path
):
    x, y = images
    in_memory = augmented_file.compute_augmented_logits(teacher, x, PLAN, epochs=2)
    full = augmented_file.cache_augmented_logits(teacher, x, tmp_path / "full", PLAN, 2)
    np.testing.assert_allclose(
        epoch_logits(full, x, y), in_memory.teacher_logits, atol=1e-5
    )
    top = augmented_file.cache_augmented_logits(
        teacher, x, tmp_path / "top", PLAN, 2, top_k=2
    )
    assert top.top_k == 2 and top.bytes_per_augmented_image() == 6 * 2 + 4
    assert full.bytes_per_augmented_image() == 4 * 4
    expected = topk.logits_from_top_k(
        *topk.top_k_logits(epoch_logits(full, x, y), 2), 4
    )
    np.testing.assert_allclose(epoch_logits(top, x, y), expected, atol=1e-6)
    # On disk per image and epoch: 16 B of logits, 40 B of view parameters,
    # the record framing and the manifest.
    assert 56 < full.disk_bytes_per_augmented_image() < 56 + 40
    assert top.disk_bytes_per_augmented_image() == pytest.approx(
        full.disk_bytes_per_augmented_image(), abs=1
    )  # 16 B either way with 4 classes and k = 2


def test_distiller_trains_from_the_stream_for_the_stored_epochs(
    images, assert_student_trains_on_views, tmp_path
):
    x, y = images
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential(
        [keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    cache = augmented_file.cache_augmented_logits(
        teacher, x[..., 0], tmp_path / "v", PLAN, epochs=2, batch_size=16, top_k=3
    )
    with pytest.raises(ValueError, match=r"must be the \(40, 8, 8, 1\) images"):
        cache.dataset(x[:30], y[:30])
    student = keras.Sequential(
        [keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    assert_student_trains_on_views(student, cache, x[..., 0], y, alpha=0.5)


def test_failed_write_leaves_no_cache_and_keeps_the_old_one(
    images, view_teacher, tmp_path
):
    x, _ = images

    class FailingTeacher(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(4)
            self.calls = 0

        def call(self, inputs):
            return self.dense(keras.ops.reshape(inputs, (-1, 64)))

        def predict_on_batch(self, inputs):
            self.calls += 1
            if self.calls == 4:  # in the second epoch
                raise RuntimeError("killed")
            return super().predict_on_batch(inputs)

    failing = FailingTeacher()
    arguments = dict(plan=PLAN, epochs=2, batch_size=16, teacher_outputs="logits")
    with pytest.raises(RuntimeError, match="killed"):
        augmented_file.cache_augmented_logits(failing, x, tmp_path / "v", **arguments)
    assert os.listdir(tmp_path) == []
    good = view_teacher()
    augmented_file.cache_augmented_logits(good, x, tmp_path / "v", PLAN, epochs=1)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        augmented_file.cache_augmented_logits(good, x, tmp_path / "v", PLAN, epochs=1)
    failing.calls = 0
    with pytest.raises(RuntimeError, match="killed"):
        augmented_file.cache_augmented_logits(
            failing, x, tmp_path / "v", overwrite=True, **arguments
        )
    assert os.listdir(tmp_path) == ["v"]
    assert (
        augmented_file.load_augmented_logits(tmp_path / "v", x, teacher=good).epochs
        == 1
    )


def test_stale_foreign_and_damaged_caches_are_refused(
    images, teacher, view_teacher, tmp_path
):
    x, _ = images
    path = tmp_path / "v"
    augmented_file.cache_augmented_logits(teacher, x, path, PLAN, epochs=1)
    with pytest.raises(caches.StaleCacheError, match="other data than `x`"):
        augmented_file.load_augmented_logits(path, x[::-1], allow_any_teacher=True)
    with pytest.raises(caches.StaleCacheError, match="another teacher"):
        augmented_file.load_augmented_logits(path, x, teacher=view_teacher(1))
    with pytest.raises(ValueError, match="`load_augmented_logits` needs exactly one"):
        augmented_file.load_augmented_logits(path, x)
    fingerprint = caches.fingerprint_teacher(teacher)
    assert augmented_file.load_augmented_logits(
        path, x, teacher_fingerprint=fingerprint
    )
    # One format, two kinds: neither reader takes the other's cache.
    with pytest.raises(ValueError, match="this reader takes caches written by"):
        sharded_logits.sharded_dataset(path, x, np.zeros(40), allow_any_teacher=True)
    sharded_logits.write_sharded_logits(teacher, x, tmp_path / "logits")
    with pytest.raises(ValueError, match="this reader takes caches written by"):
        augmented_file.load_augmented_logits(
            tmp_path / "logits", x, allow_any_teacher=True
        )
    manifest = json.loads((path / "manifest.json").read_text())
    parameters = path / manifest["views"]["parameter_files"][0]["file"]
    original = parameters.read_bytes()
    parameters.write_bytes(original[:-4])
    with pytest.raises(ValueError, match="view-parameters-00000.bin.* is damaged"):
        augmented_file.load_augmented_logits(path, x, allow_any_teacher=True)
    # The same file of a cache drawn with another seed: same size, refused.
    other_seed = tmp_path / "other-seed"
    augmented_file.cache_augmented_logits(
        teacher, x, other_seed, augmentation.AugmentationPlan(shift=2, seed=7), 1
    )
    swapped = (other_seed / parameters.name).read_bytes()
    assert len(swapped) == len(original) and swapped != original
    parameters.write_bytes(swapped)
    with pytest.raises(ValueError, match="damaged or from another cache"):
        augmented_file.load_augmented_logits(path, x, allow_any_teacher=True)


MEMORY_SCRIPT = """
import json, sys
import keras, numpy as np
from kdkeras.caches import augmented_file
from kdkeras import augmentation

images, epochs, directory = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

teacher = keras.Sequential(
    [keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(1000)]
)
x = np.random.default_rng(0).normal(size=(images, 8, 8)).astype("float32")
plan = augmentation.AugmentationPlan(shift=2, mixup_alpha=0.2, seed=0)
# Warm up every code path (tracing, the writer) on a small cache first.
augmented_file.cache_augmented_logits(teacher, x, directory + "-warm", plan, 2)
before = reset_peak_memory()
cache = augmented_file.cache_augmented_logits(teacher, x, directory, plan, epochs)
print(json.dumps({"before_kb": before, "peak_kb": rss_kb("VmHWM"),
                  "views": cache.epochs * cache.num_samples,
                  "bytes": sum(shard["bytes"] for shard in cache.manifest["shards"])}))
"""


@pytest.mark.tensorflow
def test_writing_a_view_cache_30x_larger_than_the_memory_bound(
    run_memory_script, tmp_path
):
    """500 MB of logits (50 epochs × 2,500 images × 1,000 classes) in 16 MB
    of growth: memory holds the images, one epoch's view parameters and one
    batch, not epochs × images.

    Measured: 2 MB for 10 and for 40 epochs on an idle machine; 12.0 MB once
    for 40 epochs with two other jobs on its two cores (tf.data holds more
    batches when the consumer is slow). A writer that copied the images into
    a new pipeline every epoch grew by 0.6 MB an epoch (30 MB here).
    """
    images, epochs, bound_mb = 2500, 50, 16
    measured = run_memory_script(MEMORY_SCRIPT, images, epochs, tmp_path / "v")
    logits_mb = measured["views"] * 1000 * 4 / 1e6
    growth_mb = (measured["peak_kb"] - measured["before_kb"]) * 1024 / 1e6
    assert measured["views"] == images * epochs and logits_mb >= 30 * bound_mb
    assert measured["bytes"] > images * epochs * 4000  # the logits are all on disk
    assert growth_mb < bound_mb, measured
