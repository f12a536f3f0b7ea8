"""A teacher-logit cache that streams: TFRecord shards and a JSON manifest.

The in-memory cache (`kdkeras.distillation.offline`) holds every logit in one
array; this one is written and read one batch at a time, so its memory use
does not grow with the data (1.28 M images × 1,000 classes is 5.1 GB of
float32 logits, more than the student needs in memory).

```python
from kdkeras.distillation import offline, sharded_cache

data = keras.utils.image_dataset_from_directory("train/", shuffle=False)
sharded_cache.cache_teacher_logits(teacher, data, "logits/", top_k=20)
fingerprint = offline.fingerprint_teacher(teacher)  # a string to keep
# later, in another process, with no teacher in memory:
dataset = sharded_cache.sharded_dataset(
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
the teacher and the data (`kdkeras.distillation.fingerprints`), the numbers
of examples, batches and classes, `top_k`, and each shard's size. It is
written into a temporary directory and renamed into place once the shards
are verified (`kdkeras.io_utils.atomic_directory`): a killed write leaves no
half cache.

**Records.** One TFRecord per batch, the raw little-endian bytes of all
logits, or with `top_k=k` of the `k` largest, their class ids and the
log-sum-exp of the rest (`kdkeras.distillation.topk`), rebuilt into full
logits while reading (`kdkeras.distillation.shard_records`).

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

import json
import os

import keras
import numpy as np

from kdkeras import batches
from kdkeras.distillation import fingerprints, offline, shard_records, topk
from kdkeras.distillation import outputs as model_outputs
from kdkeras.io_utils import atomic_directory
from kdkeras.validation import (
    check_class_labels,
    check_examples,
    check_finite,
    check_positive_int,
)
from kdkeras.version import __version__

MANIFEST = "manifest.json"
FORMAT = "kdkeras-sharded-logits"
_FORMAT_VERSION = 1
_WRITER = "sharded_cache.cache_teacher_logits"


def cache_teacher_logits(
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
        The manifest (a dict, also in `directory/manifest.json`).
    """
    check_examples(x, "x")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(shard_size, "shard_size")
    if top_k is not None:
        topk.check_top_k(top_k)
    predict = _batch_predictor(teacher, teacher_outputs)
    is_dataset = batches.is_dataset(x)
    digest = fingerprints.BatchDigest()
    with atomic_directory(directory, overwrite=overwrite) as temporary:
        writer = shard_records.ShardWriter(temporary, shard_size)
        num_classes = None
        for inputs in _batches_of(x, batch_size):
            logits = predict(inputs)
            if logits.ndim != 2:
                raise ValueError(
                    "`teacher` must output one row of logits per example, "
                    f"(batch, classes). Received outputs of shape {logits.shape}"
                )
            if num_classes is None:
                num_classes = logits.shape[-1]
                if top_k is not None:
                    topk.check_top_k(top_k, num_classes)
            check_finite(logits, "teacher_logits")
            if is_dataset:
                digest.update(inputs)
            writer.write(*shard_records.serialize_batch(logits, top_k))
        shards = writer.close()
        if num_classes is None:
            raise ValueError("`x` must hold at least one example. Received: no batch")
        manifest = {
            "format": FORMAT,
            "format_version": _FORMAT_VERSION,
            "kdkeras_version": __version__,
            "teacher_fingerprint": fingerprints.fingerprint_teacher(teacher),
            "data_fingerprint": (
                digest.hexdigest() if is_dataset else fingerprints.fingerprint_data(x)
            ),
            "num_examples": writer.rows,
            "num_batches": writer.records,
            "batch_size": None if is_dataset else batch_size,
            "num_classes": int(num_classes),
            "top_k": top_k,
            "batches_per_shard": writer.batches_per_shard,
            "shards": shards,
        }
        with open(os.path.join(temporary, MANIFEST), "w") as file:
            json.dump(manifest, file, indent=1)
        if read_manifest(temporary) != manifest:
            raise OSError(f"The manifest written in {temporary!r} reads back wrong.")
    return manifest


def read_manifest(directory):
    """The manifest of a sharded cache, its shard files checked for size.

    Args:
        directory: A cache written by `cache_teacher_logits`.

    Returns:
        The manifest, a dict (see `cache_teacher_logits`).

    Raises:
        FileNotFoundError: If `directory` holds no `manifest.json`.
        ValueError: If the manifest is not a kdkeras sharded cache's, or a
            shard file is missing or of another size than written.
    """
    path = os.path.join(os.fspath(directory), MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{os.fspath(directory)!r} is not a sharded logit cache: it has no "
            f"{MANIFEST}. Write one with `{_WRITER}`."
        )
    try:
        with open(path) as file:
            manifest = json.load(file)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path!r} is not a kdkeras manifest ({type(error).__name__})."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path!r} is not a manifest written by `{_WRITER}`.")
    if manifest.get("format_version") != _FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has format version {manifest.get('format_version')!r}; "
            f"this kdkeras reads version {_FORMAT_VERSION}. Recompute the cache."
        )
    for shard in manifest["shards"]:
        shard_path = os.path.join(os.fspath(directory), shard["file"])
        size = os.path.getsize(shard_path) if os.path.isfile(shard_path) else None
        if size != shard["bytes"]:
            raise ValueError(
                f"The shard {shard_path!r} of the cache is missing or damaged "
                f"({size} bytes, {shard['bytes']} written). Recompute the "
                f"cache with `{_WRITER}(..., overwrite=True)`."
            )
    return manifest


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
    `offline.load_teacher_logits`: exactly one of `teacher`,
    `teacher_fingerprint` or `allow_any_teacher=True`.

    Args:
        directory: A cache written by `cache_teacher_logits`.
        teacher: The teacher (model, estimator or string id) of the logits.
        teacher_fingerprint: Or its `offline.fingerprint_teacher`.
        allow_any_teacher: Or `True`, to accept any teacher's logits.
        parallel_reads: Shard files read at once.

    Raises:
        offline.StaleCacheError: If the cache is another teacher's.
    """
    manifest = _checked_manifest(
        directory,
        teacher,
        teacher_fingerprint,
        allow_any_teacher,
        "teacher_logits_dataset",
    )
    return _logit_batches(directory, manifest, parallel_reads)


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
        directory: A cache written by `cache_teacher_logits`.
        data: A batched `tf.data.Dataset` of `(inputs, labels)`, or NumPy
            inputs (then `y` gives the labels, cut into the cache's batch size).
        y: Labels for NumPy `data`: class ids or one-hot rows.
        teacher: The teacher (model, estimator or string id) of the logits.
        teacher_fingerprint: Or its `offline.fingerprint_teacher`.
        allow_any_teacher: Or `True`, to accept any teacher's logits.
        verify_data: Check the fingerprint of `data` against the cache's
            (reads a dataset once). `False` skips that read; the number of
            rows of each batch is still checked while training.
        shuffle_buffer: Examples in the shuffle buffer; `None` keeps the order.
        batch_size: Rows per output batch; `None` keeps the cache's batches.
        seed: Seed of the shuffle.
        parallel_reads: Shard files read at once.

    Raises:
        offline.StaleCacheError: If the cache is another teacher's, or was
            made for other data.
    """
    import tensorflow as tf

    manifest = _checked_manifest(
        directory, teacher, teacher_fingerprint, allow_any_teacher, "sharded_dataset"
    )
    check_positive_int(shuffle_buffer, "shuffle_buffer", allow_none=True)
    check_positive_int(batch_size, "batch_size", allow_none=True)
    pairs = _labelled_batches(data, y, manifest)
    if (
        verify_data
        and fingerprints.fingerprint_data(data) != manifest["data_fingerprint"]
    ):
        raise offline.StaleCacheError(
            f"The cache {os.fspath(directory)!r} was made for other data than "
            "`data` (other inputs, order or batches). Recompute it with "
            f"`{_WRITER}(..., overwrite=True)`."
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

    logits = _logit_batches(directory, manifest, parallel_reads)
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


def _checked_manifest(directory, teacher, teacher_fingerprint, allow_any, caller):
    expected = offline.expected_teacher_fingerprint(
        teacher, teacher_fingerprint, allow_any, caller=caller
    )
    manifest = read_manifest(directory)
    stored = manifest["teacher_fingerprint"]
    if expected is not None and expected != stored:
        raise offline.StaleCacheError(
            f"The cache {os.fspath(directory)!r} was made by another teacher "
            f"(fingerprint {stored[:12]}…, received {expected[:12]}…). "
            f"Recompute it with `{_WRITER}(..., overwrite=True)`."
        )
    return manifest


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


def _batch_predictor(teacher, teacher_outputs):
    """A function from a batch of inputs to the teacher's float32 logits."""
    if isinstance(teacher, keras.Model):
        kind = model_outputs.resolve_output_kind(
            teacher, teacher_outputs, "teacher_outputs"
        )

        def predict(inputs):
            return teacher.predict_on_batch(inputs)

    elif hasattr(teacher, "predict_proba"):
        kind, predict = "probabilities", teacher.predict_proba
    else:
        raise TypeError(
            "`teacher` must be a Keras model or an estimator with "
            f"`predict_proba`. Received: teacher of type {type(teacher)}"
        )

    def logits(inputs):
        outputs = np.asarray(predict(inputs), dtype="float32")
        if kind == "probabilities":
            outputs = keras.ops.convert_to_numpy(
                model_outputs.probabilities_to_logits(outputs)
            )
        return np.asarray(outputs, dtype="<f4")

    return logits


def _batches_of(x, batch_size):
    """The input batches of a dataset, or of arrays cut into `batch_size` rows."""
    if batches.is_dataset(x):
        yield from batches.input_batches(x)
        return
    for start in range(0, fingerprints.num_samples(x), batch_size):
        stop = start + batch_size
        if isinstance(x, dict):
            yield {key: value[start:stop] for key, value in x.items()}
        elif isinstance(x, (list, tuple)):
            yield [value[start:stop] for value in x]
        else:
            yield x[start:stop]


def _logit_batches(directory, manifest, parallel_reads):
    check_positive_int(parallel_reads, "parallel_reads")
    return shard_records.read_logit_batches(
        [os.path.join(os.fspath(directory), s["file"]) for s in manifest["shards"]],
        manifest,
        parallel_reads,
    )
