"""A teacher-logit cache that streams: TFRecord shards and a JSON manifest.

The in-memory cache (`kdkeras.caches.logit_file`) holds every logit in one
array; this one is written and read one batch at a time, so its memory use
does not grow with the data (1.28 M images × 1,000 classes is 5.1 GB of
float32 logits, more than the student needs in memory).

```python
from kdkeras import caches

data = keras.utils.image_dataset_from_directory("train/", shuffle=False)
caches.write_sharded_logits(teacher, data, "logits/", top_k=20)
fingerprint = caches.fingerprint_teacher(teacher)  # a string to keep
# later, in another process, with no teacher in memory:
dataset = caches.sharded_dataset(
    "logits/", data, teacher_fingerprint=fingerprint,
    shuffle_buffer=10_000, batch_size=128,
)
distiller = kdkeras.Distiller(teacher=None, student=student)
distiller.compile(optimizer="adam", metrics=["accuracy"])
distiller.fit(dataset, epochs=3)
```

**Layout.** A directory holding `shard-00000.tfrecord`, `shard-00001...`,
one record per batch of the data, in the data's order (contiguous shards of
`batches_per_shard` records each), and `manifest.json`: the fingerprints of
the teacher and the data (`kdkeras.caches.fingerprints`), the numbers
of examples, batches and classes, `top_k`, and each shard's size. It is
written into a temporary directory and renamed into place once the shards
are verified (`kdkeras.io_utils.atomic_directory`): a killed write leaves no
half cache. The writer and reader of that format (`shard_files`) also write
and read the augmented-view cache (`kdkeras.caches.sharded_augmented`).

**Records.** One TFRecord per batch, the raw little-endian bytes of all
logits, or with `top_k=k` of the `k` largest, their class ids and the
log-sum-exp of the rest (`kdkeras.caches.topk`), rebuilt into full
logits while reading (`kdkeras.caches.shard_records`).

**Why TFRecord rather than `tf.data.Dataset.save`.** The teacher runs in
Python batch by batch (a Keras model on any backend, or a scikit-learn
estimator), so there is no `tf.data` pipeline of logits to `save` without
wrapping the loop in `from_generator`; TFRecord files are appended to from
Python, checked by a CRC per record, and readable by any TFRecord reader.
`Dataset.save` writes TensorFlow's snapshot format, whose shard files and
order `load` decides (its `reader_func`), while here the shard boundaries are
ours: contiguous runs of batches, which workers can compute independently
and `interleave(block_length=batches_per_shard)` reads back in order
(`docs/scale.md`).
"""

import os

import numpy as np

from kdkeras import batches
from kdkeras.caches import (
    fingerprints,
    shard_files,
    stored_outputs,
    teacher_predictions,
)
from kdkeras.validation import check_class_labels, check_examples, check_positive_int

# Public names of the format, kept here for the callers of this module.
MANIFEST = shard_files.MANIFEST
FORMAT = shard_files.FORMAT
_WRITER = shard_files.WRITERS["logits"]


def write_sharded_logits(
    teacher,
    x,
    directory,
    batch_size=256,
    top_k=None,
    teacher_outputs="auto",
    shard_size=64 * 2**20,
    overwrite=False,
):
    """Runs `teacher` over `x` batch by batch and writes its logits as shards.

    Memory use is one batch of inputs and logits, whatever the size of `x`.

    Args:
        teacher: A Keras model, or an estimator with `predict_proba` (e.g.
            scikit-learn), whose probabilities are stored as logits.
        x: A batched `tf.data.Dataset` of inputs or `(inputs, labels)`, read
            once in order (it must yield the same batches every time: no
            reshuffling), or NumPy inputs, cut into `batch_size` rows.
        directory: The cache directory to create (atomically).
        batch_size: Rows per batch of NumPy `x` (a dataset keeps its own).
        top_k: Store only the `k` largest logits of each row, their class ids
            and the log-sum-exp of the rest (`6k + 4` bytes per row instead of
            `4 · classes`); `None` stores all.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"` for a Keras
            teacher (see `kdkeras.Distiller`).
        shard_size: Approximate bytes per shard file (a whole number of
            batches; at least one).
        overwrite: Whether to replace an existing `directory`.

    Returns:
        A `ShardedLogitCache` of `directory` (its `manifest`, a dict, is also
        in `directory/manifest.json`).
    """
    check_examples(x, "x")
    check_positive_int(batch_size, "batch_size")
    predict = teacher_predictions.batch_predictor(teacher, teacher_outputs)
    is_dataset = batches.is_dataset(x)
    digest = fingerprints.BatchDigest()
    with shard_files.writing_cache(
        directory, "logits", top_k=top_k, shard_size=shard_size, overwrite=overwrite
    ) as writer:
        for inputs in batches.array_batches(x, batch_size):
            writer.write(predict(inputs))
            if is_dataset:
                digest.update(inputs)
        manifest = writer.finish(
            teacher_fingerprint=fingerprints.fingerprint_teacher(teacher),
            data_fingerprint=(
                digest.hexdigest() if is_dataset else fingerprints.fingerprint_data(x)
            ),
            batch_size=None if is_dataset else batch_size,
        )
    return ShardedLogitCache(directory, manifest)


def open_sharded_logits(
    directory,
    data=None,
    teacher=None,
    *,
    teacher_fingerprint=None,
    allow_any_teacher=False,
    caller="open_cache",
):
    """The `ShardedLogitCache` of `directory`, refused unless it is the named
    teacher's (exactly one of `teacher`, `teacher_fingerprint` or
    `allow_any_teacher=True`) and, when `data` is given, of that data.

    Raises:
        caches.StaleCacheError: If the cache is another teacher's, or was
            made for other data.
        ValueError: If `directory` is not such a cache, or damaged.
    """
    manifest = shard_files.checked_manifest(
        directory,
        "logits",
        teacher,
        teacher_fingerprint,
        allow_any_teacher,
        caller,
        data=data,
        data_name="data",
    )
    return ShardedLogitCache(directory, manifest)


class ShardedLogitCache(stored_outputs.TeacherOutputCache):
    """A sharded logit cache on disk, read as a stream (one epoch).

    Its teacher was checked when it was opened (`open_sharded_logits`,
    `open_cache`); `dataset` zips its batches with the data's.

    Attributes:
        directory: The cache directory.
        manifest: Its manifest (a dict).
    """

    def __init__(self, directory, manifest):
        self.directory = os.fspath(directory)
        self.manifest = manifest
        self.top_k = manifest["top_k"]

    @property
    def num_samples(self):
        return self.manifest["num_examples"]

    @property
    def num_classes(self):
        return self.manifest["num_classes"]

    def dataset(
        self,
        x,
        y=None,
        batch_size=None,
        shuffle=True,
        seed=None,
        shuffle_buffer=10_000,
        verify_data=True,
        parallel_reads=4,
    ):
        """`sharded_dataset` of this cache: `(x, (y, teacher_logits))` batches.

        `shuffle=False` keeps the order (no `shuffle_buffer`); `batch_size=None`
        keeps the cache's batches.
        """
        return sharded_dataset(
            self.directory,
            x,
            y,
            allow_any_teacher=True,
            verify_data=verify_data,
            shuffle_buffer=shuffle_buffer if shuffle else None,
            batch_size=batch_size,
            seed=seed,
            parallel_reads=parallel_reads,
        )


def teacher_logits_dataset(
    directory,
    teacher=None,
    *,
    teacher_fingerprint=None,
    allow_any_teacher=False,
    parallel_reads=4,
):
    """The cached logits as a `tf.data.Dataset` of `float32` batches, in order.

    One element per batch the cache was written with, `(rows, classes)`
    (top-k caches rebuilt into full logits, `topk.logits_from_top_k`). Say
    which teacher the logits must come from as for
    `caches.load_teacher_logits`: exactly one of `teacher`,
    `teacher_fingerprint` or `allow_any_teacher=True`.

    Args:
        directory: A cache written by `write_sharded_logits`.
        teacher: The teacher (model, estimator or string id) of the logits.
        teacher_fingerprint: Or its `caches.fingerprint_teacher`.
        allow_any_teacher: Or `True`, to accept any teacher's logits.
        parallel_reads: Shard files read at once.

    Raises:
        caches.StaleCacheError: If the cache is another teacher's.
    """
    manifest = open_sharded_logits(
        directory,
        teacher=teacher,
        teacher_fingerprint=teacher_fingerprint,
        allow_any_teacher=allow_any_teacher,
        caller="teacher_logits_dataset",
    ).manifest
    return shard_files.logit_batches(directory, manifest, parallel_reads)


def sharded_dataset(
    directory,
    data,
    y=None,
    teacher=None,
    *,
    teacher_fingerprint=None,
    allow_any_teacher=False,
    verify_data=True,
    shuffle_buffer=None,
    batch_size=None,
    seed=None,
    parallel_reads=4,
):
    """`(x, (y, teacher_logits))` batches for `Distiller(teacher=None).fit`.

    The batches of `data` are zipped with the cache's batches, so `data` must
    be the pipeline the cache was written from (same batches, same order);
    `shuffle_buffer` then shuffles examples with their logits, and
    `batch_size` re-batches them.

    Args:
        directory: A cache written by `write_sharded_logits`.
        data: A batched `tf.data.Dataset` of `(inputs, labels)`, or NumPy
            inputs (then `y` gives the labels, cut into the cache's batch size).
        y: Labels for NumPy `data`: class ids or one-hot rows.
        teacher: The teacher (model, estimator or string id) of the logits.
        teacher_fingerprint: Or its `caches.fingerprint_teacher`.
        allow_any_teacher: Or `True`, to accept any teacher's logits.
        verify_data: Check the fingerprint of `data` against the cache's
            (reads a dataset once). `False` skips that read; the number of
            rows of each batch is still checked while training.
        shuffle_buffer: Examples in the shuffle buffer; `None` keeps the order.
        batch_size: Rows per output batch; `None` keeps the cache's batches.
        seed: Seed of the shuffle.
        parallel_reads: Shard files read at once.

    Raises:
        caches.StaleCacheError: If the cache is another teacher's, or was
            made for other data.
    """
    import tensorflow as tf

    manifest = open_sharded_logits(
        directory,
        teacher=teacher,
        teacher_fingerprint=teacher_fingerprint,
        allow_any_teacher=allow_any_teacher,
        caller="sharded_dataset",
    ).manifest
    check_positive_int(shuffle_buffer, "shuffle_buffer", allow_none=True)
    check_positive_int(batch_size, "batch_size", allow_none=True)
    pairs = _labelled_batches(data, y, manifest)
    if verify_data:
        fingerprints.check_fingerprints(
            directory,
            _WRITER,
            stored_teacher=manifest["teacher_fingerprint"],
            expected_teacher=None,
            stored_data=manifest["data_fingerprint"],
            data=data,
            data_name="data",
        )
    cardinality = int(pairs.cardinality())
    if cardinality >= 0 and cardinality != manifest["num_batches"]:
        raise ValueError(
            f"`data` must yield the {manifest['num_batches']} batches the cache "
            f"was written from. Received: {cardinality} batches"
        )

    def join(element, teacher_logits):
        inputs, labels = element
        return inputs, (labels, teacher_logits)

    def checked_join(element, teacher_logits):
        same_rows = tf.debugging.assert_equal(
            tf.shape(teacher_logits)[0],
            tf.shape(element[1])[0],
            message="A batch of `data` and the cached batch of logits differ in "
            "rows: `data` is not the pipeline the cache was written from",
        )
        with tf.control_dependencies([same_rows]):
            return join(element, tf.identity(teacher_logits))

    logits = shard_files.logit_batches(directory, manifest, parallel_reads)
    # The fingerprint covers every batch's shape; without it, check the rows.
    dataset = tf.data.Dataset.zip(pairs, logits).map(
        join if verify_data else checked_join
    )
    if shuffle_buffer is not None or batch_size is not None:
        dataset = dataset.unbatch()
        if shuffle_buffer is not None:
            dataset = dataset.shuffle(shuffle_buffer, seed=seed)
        dataset = dataset.batch(batch_size or manifest["batch_size"] or 32)
    # Under a multi-worker strategy, AUTO sharding could shard the shard files
    # by worker but not the inputs they are zipped with; DATA sharding deals
    # out whole zipped batches, so inputs and logits stay paired.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.prefetch(2).with_options(options)


def _labelled_batches(data, y, manifest):
    import tensorflow as tf

    if batches.is_dataset(data):
        if y is not None:
            raise ValueError(
                "`y` must be None when `data` is a tf.data.Dataset (it yields "
                "the labels). Received: y of type "
                f"{type(y).__name__}"
            )
        batches.check_batched_pairs(data, "data")
        if len(data.element_spec) != 2:
            raise ValueError(
                "`data` must yield `(inputs, labels)` pairs. Received: a "
                f"dataset of {len(data.element_spec)}-tuples"
            )
        return data
    if y is None:
        raise ValueError("`y` must be given when `data` is NumPy inputs.")
    if manifest["batch_size"] is None:
        raise ValueError(
            "The cache was written from a tf.data.Dataset: `data` must be that "
            f"dataset. Received: data of type {type(data).__name__}"
        )
    check_class_labels(np.asarray(y), manifest["num_classes"], "y", owner="cache")
    if len(y) != fingerprints.num_samples(data):
        raise ValueError(
            "`y` must have one row per example of `data` "
            f"({fingerprints.num_samples(data)}). Received: len(y)={len(y)}"
        )
    return tf.data.Dataset.from_tensor_slices((data, y)).batch(manifest["batch_size"])
