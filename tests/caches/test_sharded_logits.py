"""The sharded logit cache: written batch by batch in bounded memory, read
back in order (full and top-k), refused for another teacher or other data,
never left half-written, and trained from by the Distiller."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kdkeras
from kdkeras import caches
from kdkeras.caches import shard_files, shard_records, sharded_logits, topk

NUM_CLASSES = 12


def make_teacher(seed=0, num_classes=NUM_CLASSES):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes),
        ]
    )


@pytest.fixture(scope="module")
def teacher():
    return make_teacher()


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(103, 8, 8, 1)).astype("float32")
    return x, (np.arange(103) % NUM_CLASSES).astype("int32")


def pipeline(arrays, batch_size=10):
    return tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size)


def read_all(dataset):
    return np.concatenate(list(dataset.as_numpy_iterator()))


def test_full_logits_round_trip_in_order(teacher, arrays, tmp_path):
    # 1 kB shards: 2 batches of 10 rows (480 B each), 6 shards read 4 at a time.
    manifest = sharded_logits.write_sharded_logits(
        teacher, pipeline(arrays), tmp_path / "cache", shard_size=1000
    ).manifest
    assert (manifest["num_examples"], manifest["num_batches"]) == (103, 11)
    assert manifest["batches_per_shard"] == 2 and len(manifest["shards"]) == 6
    on_disk = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert on_disk == manifest
    logits = sharded_logits.teacher_logits_dataset(tmp_path / "cache", teacher)
    assert logits.element_spec.shape.as_list() == [None, NUM_CLASSES]
    np.testing.assert_allclose(
        read_all(logits), teacher.predict(arrays[0], verbose=0), atol=1e-5
    )
    # The data fingerprint is the one `offline` computes for the same pipeline.
    assert manifest["data_fingerprint"] == caches.fingerprint_data(pipeline(arrays))


def test_top_k_cache_holds_the_reconstruction(teacher, arrays, tmp_path):
    x, _ = arrays
    full = sharded_logits.write_sharded_logits(
        teacher, x, tmp_path / "full", 16
    ).manifest
    top = sharded_logits.write_sharded_logits(
        teacher, x, tmp_path / "top", 16, top_k=3, shard_size=900
    ).manifest
    assert full["num_batches"] == top["num_batches"] == 7
    assert len(top["shards"]) == 4  # 2 records of 16 rows (352 B) per shard
    exact = read_all(sharded_logits.teacher_logits_dataset(tmp_path / "full", teacher))
    rebuilt = read_all(
        sharded_logits.teacher_logits_dataset(tmp_path / "top", allow_any_teacher=True)
    )
    np.testing.assert_array_equal(
        rebuilt, topk.logits_from_top_k(*topk.top_k_logits(exact, 3), NUM_CLASSES)
    )
    sizes = [sum(s["bytes"] for s in m["shards"]) for m in (full, top)]
    assert sizes[1] < 0.6 * sizes[0]  # 22 against 48 bytes per row


def test_rebuild_top_k_by_hand():
    rebuilt = shard_records.rebuild_top_k(
        tf.constant([[3.0, 1.0]]), tf.constant([[1, 0]], tf.int16), [0.0], 4
    )
    np.testing.assert_allclose(rebuilt, [[1.0, 3.0, -np.log(2), -np.log(2)]])


def test_shuffled_examples_keep_their_logits(tmp_path):
    # An identity teacher: each example's logits are its inputs.
    teacher = keras.Sequential([keras.Input((5,)), keras.layers.Identity()])
    x = np.random.default_rng(1).normal(size=(50, 5)).astype("float32")
    y = np.arange(50) % 5
    sharded_logits.write_sharded_logits(teacher, x, tmp_path / "c", batch_size=8)
    dataset = sharded_logits.sharded_dataset(
        tmp_path / "c", x, y, teacher, shuffle_buffer=50, batch_size=7, seed=3
    )
    elements = list(dataset.as_numpy_iterator())
    assert [len(inputs) for inputs, _ in elements] == [7] * 7 + [1]
    inputs = np.concatenate([inputs for inputs, _ in elements])
    labels = np.concatenate([targets[0] for _, targets in elements])
    logits = np.concatenate([targets[1] for _, targets in elements])
    np.testing.assert_array_equal(logits, inputs)
    assert not np.array_equal(inputs, x)  # shuffled...
    order = [int(np.flatnonzero((x == row).all(axis=1))[0]) for row in inputs]
    np.testing.assert_array_equal(labels, y[order])  # ...with the labels


def test_distiller_trains_from_shards_as_from_the_offline_cache(arrays, tmp_path):
    x, y = arrays
    teacher = make_teacher(num_classes=NUM_CLASSES)
    sharded_logits.write_sharded_logits(
        teacher, pipeline(arrays, 16), tmp_path / "c", shard_size=2000
    )
    streamed = sharded_logits.sharded_dataset(
        tmp_path / "c", pipeline(arrays, 16), teacher=teacher
    )
    # A multi-worker strategy deals out whole (inputs, logits) batches.
    assert (
        streamed.options().experimental_distribute.auto_shard_policy
        == tf.data.experimental.AutoShardPolicy.DATA
    )
    logits = read_all(sharded_logits.teacher_logits_dataset(tmp_path / "c", teacher))
    in_memory = caches.offline_dataset(x, y, logits, batch_size=16, shuffle=False)
    weights = []
    for dataset in (streamed, in_memory):
        keras.utils.set_random_seed(1)
        student = keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(12)]
        )
        distiller = kdkeras.Distiller(teacher=None, student=student)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1), alpha=0.5)
        history = distiller.fit(dataset, epochs=1, verbose=0, shuffle=False)
        assert np.isfinite(history.history["loss"]).all()
        weights.append(student.get_weights())
    for streamed_weight, offline_weight in zip(*weights, strict=True):
        np.testing.assert_allclose(streamed_weight, offline_weight, atol=1e-6)


def test_cache_of_another_teacher_or_other_data_is_refused(teacher, arrays, tmp_path):
    sharded_logits.write_sharded_logits(teacher, pipeline(arrays), tmp_path / "c")
    other = make_teacher(seed=7)
    with pytest.raises(caches.StaleCacheError, match="another teacher"):
        sharded_logits.teacher_logits_dataset(tmp_path / "c", other)
    with pytest.raises(caches.StaleCacheError, match="another teacher"):
        sharded_logits.sharded_dataset(
            tmp_path / "c",
            pipeline(arrays),
            teacher_fingerprint=caches.fingerprint_teacher(other),
        )
    with pytest.raises(ValueError, match="needs exactly one of `teacher`"):
        sharded_logits.sharded_dataset(tmp_path / "c", pipeline(arrays))
    with pytest.raises(caches.StaleCacheError, match="other data"):
        sharded_logits.sharded_dataset(
            tmp_path / "c", pipeline(arrays, batch_size=20), teacher=teacher
        )
    # Without the fingerprint check, re-batched data still cannot pass.
    with pytest.raises(ValueError, match="must yield the 11 batches"):
        sharded_logits.sharded_dataset(
            tmp_path / "c", pipeline(arrays, 20), teacher=teacher, verify_data=False
        )
    two_rows_short = pipeline((arrays[0][:101], arrays[1][:101]))  # 11 batches
    dataset = sharded_logits.sharded_dataset(
        tmp_path / "c", two_rows_short, teacher=teacher, verify_data=False
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ in rows"):
        list(dataset.as_numpy_iterator())


def test_failed_write_leaves_no_cache_and_keeps_the_old_one(arrays, tmp_path):
    class FailingTeacher(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(NUM_CLASSES)
            self.calls = 0

        def call(self, inputs):
            return self.dense(keras.ops.reshape(inputs, (-1, 64)))

        def predict_on_batch(self, inputs):
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("killed")
            return super().predict_on_batch(inputs)

    failing = FailingTeacher()
    with pytest.raises(RuntimeError, match="killed"):
        sharded_logits.write_sharded_logits(
            failing, pipeline(arrays), tmp_path / "c", teacher_outputs="logits"
        )
    assert os.listdir(tmp_path) == []
    good = make_teacher()
    sharded_logits.write_sharded_logits(good, pipeline(arrays), tmp_path / "c")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        sharded_logits.write_sharded_logits(good, pipeline(arrays), tmp_path / "c")
    failing.calls = 0
    with pytest.raises(RuntimeError, match="killed"):
        sharded_logits.write_sharded_logits(
            failing,
            pipeline(arrays),
            tmp_path / "c",
            teacher_outputs="logits",
            overwrite=True,
        )
    assert os.listdir(tmp_path) == ["c"]
    sharded_logits.teacher_logits_dataset(tmp_path / "c", good)  # intact


def _cache_with_manifest(teacher, x, directory, change):
    """A cache of `teacher` on `x` in `directory`, its manifest then changed
    by `change(manifest)`; returns the manifest's path."""
    sharded_logits.write_sharded_logits(teacher, x, directory, batch_size=16)
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return path


@pytest.mark.parametrize(
    "name", ["../outside.tfrecord", "/etc/passwd", "sub/shard.tfrecord", "", ".."]
)
def test_a_manifest_naming_a_file_outside_the_cache_is_refused(
    teacher, arrays, tmp_path, name
):
    (tmp_path / "outside.tfrecord").write_bytes(b"x" * 10)

    def rename_first_shard(manifest):
        manifest["shards"][0]["file"] = name

    _cache_with_manifest(teacher, arrays[0], tmp_path / "c", rename_first_shard)
    with pytest.raises(ValueError, match="expected a plain file name inside"):
        sharded_logits.teacher_logits_dataset(tmp_path / "c", allow_any_teacher=True)


def test_a_shard_linking_outside_the_cache_is_refused(teacher, arrays, tmp_path):
    _cache_with_manifest(teacher, arrays[0], tmp_path / "c", lambda manifest: None)
    shard = tmp_path / "c" / "shard-00000.tfrecord"
    outside = tmp_path / "outside.tfrecord"
    outside.write_bytes(shard.read_bytes())
    shard.unlink()
    shard.symlink_to(outside)
    with pytest.raises(ValueError, match="links outside the cache folder"):
        shard_files.read_manifest(tmp_path / "c")


def test_a_same_size_shard_of_another_teachers_cache_is_refused(
    teacher, arrays, tmp_path
):
    x = arrays[0]
    sharded_logits.write_sharded_logits(teacher, x, tmp_path / "a", batch_size=16)
    keras.utils.set_random_seed(1)
    other = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(NUM_CLASSES),
        ]
    )
    sharded_logits.write_sharded_logits(other, x, tmp_path / "b", batch_size=16)
    shard = "shard-00000.tfrecord"
    foreign = (tmp_path / "b" / shard).read_bytes()
    assert len(foreign) == len((tmp_path / "a" / shard).read_bytes())
    (tmp_path / "a" / shard).write_bytes(foreign)
    with pytest.raises(ValueError, match="damaged or from another cache"):
        sharded_logits.teacher_logits_dataset(tmp_path / "a", teacher=teacher)


@pytest.mark.parametrize(
    "field, value",
    [("shards", None), ("num_classes", "10"), ("top_k", True), ("shards", [{}])],
)
def test_a_manifest_with_a_missing_or_mistyped_field_is_named(
    teacher, arrays, tmp_path, field, value
):
    def change(manifest):
        if value is None:
            del manifest[field]
        else:
            manifest[field] = value

    _cache_with_manifest(teacher, arrays[0], tmp_path / "c", change)
    with pytest.raises(ValueError, match=f"`{field}(\\[0\\])?`"):
        shard_files.read_manifest(tmp_path / "c")


def test_damaged_or_foreign_caches_give_a_clear_error(teacher, arrays, tmp_path):
    with pytest.raises(FileNotFoundError, match="has no manifest.json"):
        sharded_logits.teacher_logits_dataset(tmp_path, allow_any_teacher=True)
    manifest = sharded_logits.write_sharded_logits(
        teacher, arrays[0], tmp_path / "c"
    ).manifest
    shard = tmp_path / "c" / manifest["shards"][0]["file"]
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(ValueError, match="shard-00000.tfrecord.* is damaged"):
        shard_files.read_manifest(tmp_path / "c")
    shard.unlink()
    with pytest.raises(ValueError, match="shard-00000.tfrecord.* is missing"):
        shard_files.read_manifest(tmp_path / "c")
    (tmp_path / "c" / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a manifest written by"):
        shard_files.read_manifest(tmp_path / "c")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top_k": 0}, r"`top_k` must be an int in \[1, num_classes\]"),
        ({"top_k": 13}, r"`top_k` must be an int in \[1, 12\]"),
        ({"shard_size": 0}, "`shard_size` must be a positive int"),
        ({"batch_size": 0}, "`batch_size` must be a positive int"),
    ],
)
def test_bad_arguments_are_refused(teacher, arrays, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sharded_logits.write_sharded_logits(
            teacher, arrays[0], tmp_path / "c", **kwargs
        )
    assert not (tmp_path / "c").exists()


MEMORY_SCRIPT = """
import json, os, sys
import keras, tensorflow as tf
from kdkeras.caches import sharded_logits

rows, classes, batch, directory = int(sys.argv[1]), 1000, 250, sys.argv[2]

teacher = keras.Sequential([keras.Input((16,)), keras.layers.Dense(classes)])
data = tf.data.Dataset.range(rows // batch).map(
    lambda i: tf.random.stateless_uniform((batch, 16), tf.stack([i, i]))
)
# Warm up every code path (tracing, the writer) on a small cache first.
sharded_logits.write_sharded_logits(teacher, data.take(3), directory + "-warm")
before = reset_peak_memory()
manifest = sharded_logits.write_sharded_logits(teacher, data, directory).manifest
print(json.dumps({"before_kb": before, "peak_kb": rss_kb("VmHWM"),
                  "rows": manifest["num_examples"], "classes": manifest["num_classes"],
                  "bytes": sum(shard["bytes"] for shard in manifest["shards"])}))
"""


@pytest.mark.tensorflow
def test_writing_a_cache_10x_larger_than_the_memory_bound(run_memory_script, tmp_path):
    """400 MB of logits (100k rows × 1,000 classes) in 40 MB of growth.

    The growth measured is about 10 MB (16–20 MB, the same for 50k and 150k
    rows, with an earlier record format that copied each batch more): one
    batch (250 rows, 1 MB of logits) in a few copies, and the writer.
    """
    rows, bound_mb = 100_000, 40
    measured = run_memory_script(MEMORY_SCRIPT, rows, tmp_path / "cache")
    logits_mb = measured["rows"] * measured["classes"] * 4 / 1e6
    growth_mb = (measured["peak_kb"] - measured["before_kb"]) * 1024 / 1e6
    assert measured["rows"] == rows and logits_mb >= 10 * bound_mb
    assert measured["bytes"] > rows * 4000  # the logits are all on disk
    assert growth_mb < bound_mb, measured
