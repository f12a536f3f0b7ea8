"""The record format of the sharded logit cache (`sharded_logits`, `sharded_augmented`).

One TFRecord per batch of `rows` examples, the raw little-endian bytes of

* full logits: float32 `(rows, classes)`;
* top-k (`kdkeras.caches.topk`): float32 values `(rows, k)`, then
  int16 class ids `(rows, k)`, then float32 log-sum-exp of the rest
  `(rows,)`: `rows · (6k + 4)` bytes, rebuilt into full logits while reading.

Raw bytes rather than a `tf.train.Example`: decoding is one `decode_raw` (a
parsed `Example` cost ~0.35 ms more per batch, measured on this machine, a
few percent of a small student's training step). Shards are contiguous runs
of `batches_per_shard` records.
"""

import os

import numpy as np

from kdkeras.caches import topk

# A TFRecord adds a length (8 bytes) and two CRCs (4 + 4) to every record.
RECORD_FRAMING = 16


def serialize_batch(logits, top_k):
    """`(record, rows)`: the bytes of a batch of logits, and its number of rows."""
    if top_k is None:
        return np.ascontiguousarray(logits, "<f4").tobytes(), len(logits)
    values, classes, rest = topk.top_k_logits(logits, top_k)
    record = b"".join(
        np.ascontiguousarray(array, dtype).tobytes()
        for array, dtype in ((values, "<f4"), (classes, "<i2"), (rest, "<f4"))
    )
    return record, len(logits)


class ShardWriter:
    """Appends records to contiguous shard files of `batches_per_shard` records.

    The number of records per shard is set by the first record (`shard_size`
    bytes, at least one record), so that every shard but the last holds the
    same number and an interleave with that block length reads them in order.
    After `start_group`, the next record starts a new shard, tagged with the
    group's number: every group (an epoch of views) is then such a run of
    shards of its own, read on its own.
    """

    def __init__(self, directory, shard_size):
        self.directory = directory
        self.shard_size = shard_size
        self.batches_per_shard = None
        self.records = 0
        self.rows = 0
        self._shards = []
        self._writer = None
        self._group = None
        self._group_records = 0

    def start_group(self):
        """Starts a new group: its first record starts a new shard."""
        self._group = 0 if self._group is None else self._group + 1
        self._group_records = 0

    def write(self, record, rows):
        """Appends `record`, a batch of `rows` examples."""
        import tensorflow as tf

        if self.batches_per_shard is None:
            self.batches_per_shard = max(1, self.shard_size // len(record))
        if self._group_records % self.batches_per_shard == 0:
            self._close_shard()
            name = f"shard-{len(self._shards):05d}.tfrecord"
            self._writer = tf.io.TFRecordWriter(os.path.join(self.directory, name))
            self._shards.append({"file": name, "records": 0, "rows": 0, "bytes": 0})
            if self._group is not None:
                self._shards[-1]["group"] = self._group
        self._writer.write(record)
        shard = self._shards[-1]
        shard["records"] += 1
        shard["rows"] += rows
        shard["bytes"] += len(record) + RECORD_FRAMING
        self.records += 1
        self._group_records += 1
        self.rows += rows

    def _close_shard(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self):
        """Closes the last shard; returns the shards' descriptions."""
        self._close_shard()
        return self._shards


def read_logit_batches(files, manifest, parallel_reads, num_batches):
    """The logit batches of shard `files`, in order, as a `tf.data.Dataset`.

    Args:
        files: The shard paths, in order: contiguous runs of
            `batches_per_shard` records, the last one maybe shorter.
        manifest: The cache's manifest (`batches_per_shard`, `num_classes`,
            `top_k`).
        parallel_reads: Files read at once.
        num_batches: The number of records of `files`.
    """
    import tensorflow as tf

    cycle = min(parallel_reads, len(files))
    if cycle == 1:
        records = tf.data.TFRecordDataset(files)  # one file after the other
    else:
        # Shards are contiguous runs of `batches_per_shard` records: taking
        # that many from each shard in turn yields the records in the order
        # written, while `cycle` files are read ahead at once.
        records = tf.data.Dataset.from_tensor_slices(files).interleave(
            tf.data.TFRecordDataset,
            cycle_length=cycle,
            block_length=manifest["batches_per_shard"],
            num_parallel_calls=cycle,
            deterministic=True,
        )
    num_classes, top_k = manifest["num_classes"], manifest["top_k"]

    def decode(record):
        if top_k is None:
            logits = tf.io.decode_raw(record, tf.float32, little_endian=True)
            return tf.reshape(logits, (-1, num_classes))
        rows = tf.strings.length(record) // (6 * top_k + 4)

        def part(start, length, dtype):
            piece = tf.strings.substr(record, start * rows, length * rows)
            return tf.io.decode_raw(piece, dtype, little_endian=True)

        values = tf.reshape(part(0, 4 * top_k, tf.float32), (-1, top_k))
        classes = tf.reshape(part(4 * top_k, 2 * top_k, tf.int16), (-1, top_k))
        rest = part(6 * top_k, 4, tf.float32)
        return rebuild_top_k(values, classes, rest, num_classes)

    # The number of batches is known: Keras can count the steps of an epoch,
    # and a shard that lost records fails the epoch instead of shortening it.
    records = records.apply(tf.data.experimental.assert_cardinality(num_batches))
    return records.map(decode)


def rebuild_top_k(values, classes, rest_logsumexp, num_classes):
    """`topk.logits_from_top_k` in TensorFlow, for a `tf.data` pipeline.

    Args:
        values: `(rows, k)` float32 top logits.
        classes: `(rows, k)` integer class ids.
        rest_logsumexp: `(rows,)` log-sum-exp of the other logits.
        num_classes: The number of classes.

    Returns:
        `(rows, num_classes)` float32 logits; every class outside the top `k`
        holds `rest_logsumexp - log(num_classes - k)`.
    """
    import tensorflow as tf

    top_k = values.shape[-1]
    if top_k == num_classes:
        fill = tf.zeros_like(rest_logsumexp)
    else:
        fill = rest_logsumexp - tf.constant(np.log(num_classes - top_k), tf.float32)
    rows = tf.shape(values)[0]
    logits = tf.broadcast_to(fill[:, None], (rows, num_classes))
    row_ids = tf.repeat(tf.range(rows), top_k)
    indices = tf.stack([row_ids, tf.reshape(tf.cast(classes, tf.int32), [-1])], axis=1)
    return tf.tensor_scatter_nd_update(logits, indices, tf.reshape(values, [-1]))
