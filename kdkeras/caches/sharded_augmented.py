"""The augmentation-consistent logit cache, streamed: the sharded logit format.

`cache_augmented_logits(teacher, x, "augmented/", plan, epochs)` (a path
without `.npz`) lands here. The teacher runs over one batch of augmented
images at a time, epoch after epoch, and each batch of logits goes to the
shard writer of the plain sharded cache (`kdkeras.caches.shard_files`):
memory holds the images, one epoch's augmentation parameters (40 B per
image) and one batch of augmented images and logits, whatever the number of
epochs. Training reads the shards back as a stream, one epoch after the
other (`ShardedAugmentedCache.dataset`).

**Layout.** The sharded logit cache's (`sharded_logits`), with `"kind":
"views"` in `manifest.json`:

* `shard-00000.tfrecord`, …: one record per batch of `batch_size` views, in
  image order, full or top-k logits (`shard_records`); each epoch's records
  are shards of their own (their `"group"` in the manifest is the epoch), so
  an epoch is read without reading the others;
* `view-parameters-00000.bin`, …: one file per epoch, the parameters of its
  views as `AugmentationPlan.draw` gives them (`parameter_files`, one
  little-endian array after the other: 40 B per view);
* the manifest's `"views"`: the plan, the numbers of epochs and images, the
  image shape, the batch size and the parameter files' sizes.

Per image and epoch, that is the logit bytes (`4 · classes`, or `6k + 4`
with `top_k=k`), the 40 B of view parameters and the TFRecord framing (16 B
per record, spread over the batch).

**Reading.** `ShardedAugmentedCache.dataset`, epoch by epoch: the epoch's shards
(read `parallel_reads` at a time by an ordered interleave), zipped with the
image indices and the epoch's view parameters, shuffled within
`shuffle_buffer` views, batched, then rendered (`augmentation.labelled_augmented_batch`,
the same function as the in-memory cache's), prefetched.
"""

import os

import keras
import numpy as np

from kdkeras import augmentation
from kdkeras.caches import (
    cache_files,
    fingerprints,
    parameter_files,
    shard_files,
    stored_outputs,
    teacher_predictions,
    topk,
)
from kdkeras.validation import check_positive_int

_WRITER = shard_files.WRITERS["views"]


class ShardedAugmentedCache(stored_outputs.TeacherOutputCache):
    """An augmented-logit cache on disk, read as a stream; the API of
    `AugmentedLogitCache`.

    Made by `write_augmented_logits` or `read_augmented_logits` (through
    `augmented_file.cache_augmented_logits` / `load_augmented_logits`).

    Attributes:
        directory: The cache directory.
        manifest: Its manifest (a dict).
        plan: The `AugmentationPlan` the views were drawn with.
        top_k: The number of logits stored per view, or `None` for all.
    """

    def __init__(self, directory, manifest):
        self.directory = os.fspath(directory)
        self.manifest = manifest
        self.plan = augmentation.AugmentationPlan.from_config(manifest["views"]["plan"])
        self.top_k = manifest["top_k"]

    @property
    def epochs(self):
        return self.manifest["views"]["epochs"]

    @property
    def num_samples(self):
        return self.manifest["views"]["num_images"]

    @property
    def num_classes(self):
        return self.manifest["num_classes"]

    def bytes_per_augmented_image(self):
        """Stored logit bytes per image per epoch."""
        return topk.bytes_per_row(self.num_classes, self.top_k)

    def disk_bytes_per_augmented_image(self):
        """All the cache's bytes on disk per image per epoch (logits, view
        parameters, record framing and manifest)."""
        files = self.manifest["shards"] + self.manifest["views"]["parameter_files"]
        manifest_bytes = os.path.getsize(
            os.path.join(self.directory, shard_files.MANIFEST)
        )
        total = sum(described["bytes"] for described in files) + manifest_bytes
        return total / (self.epochs * self.num_samples)

    def epoch_parameters(self, epoch):
        """The view parameters of `epoch`: a dict of `(N[, 4])` NumPy arrays."""
        if not 0 <= epoch < self.epochs:
            raise ValueError(
                f"`epoch` must be in [0, {self.epochs}). Received: epoch={epoch}"
            )
        return parameter_files.read_parameters(
            self._parameter_path(epoch), self.num_samples
        )

    def dataset(
        self,
        x,
        y,
        batch_size=32,
        shuffle=True,
        seed=0,
        shuffle_buffer=10_000,
        parallel_reads=4,
    ):
        """`(view, (labels, teacher_logits))` batches of every stored epoch.

        As `augmentation.augmented_dataset`: epoch `e`'s batches hold the views of epoch
        `e` of all the images, no batch spans two epochs, and with
        `fit(..., steps_per_epoch=cache.steps_per_epoch(N, batch_size))` fit
        epoch `e` sees stored epoch `e`.

        Args:
            x: The images the cache was written from, `(N, H, W[, C])`.
            y: Their labels (class ids or one-hot rows), or `None` for views
                alone.
            batch_size: Rows per batch.
            shuffle: Whether each epoch's views are shuffled.
            seed: Seed of the shuffles (epoch `e` uses `[seed, e]`).
            shuffle_buffer: Views in the shuffle buffer (at most `N`); the
                whole epoch when `>= N`.
            parallel_reads: Shard files read at once.
        """
        import tensorflow as tf

        check_positive_int(batch_size, "batch_size")
        check_positive_int(shuffle_buffer, "shuffle_buffer")
        images = np.asarray(x)
        squeeze = images.ndim == 3
        if squeeze:
            images = images[..., None]
        expected_shape = (self.num_samples, *self.manifest["views"]["image_shape"])
        if images.shape != expected_shape:
            raise ValueError(
                f"`x` must be the {expected_shape} images the cache was written "
                f"from. Received: x.shape={np.shape(x)}"
            )
        mixed = self.plan.mixes
        labels = augmentation.labels_for_augmented(
            y, self.num_samples, mixed, num_classes=self.num_classes
        )
        images_tensor = tf.constant(images)
        labels_tensor = None if labels is None else tf.constant(labels)
        steps = self.steps_per_epoch(self.num_samples, batch_size)

        def epoch_views(epoch):
            logits = shard_files.logit_batches(
                self.directory, self.manifest, parallel_reads, group=epoch
            )
            parameters = tf.data.Dataset.from_tensors(self._parameter_path(epoch))
            rows = parameters.map(
                lambda path: parameter_files.decode_parameters(path, self.num_samples)
            ).flat_map(tf.data.Dataset.from_tensor_slices)
            indices = tf.data.Dataset.range(self.num_samples).map(
                lambda index: tf.cast(index, "int32")
            )
            epoch_rows = tf.data.Dataset.zip(indices, rows, logits.unbatch())
            if shuffle:
                epoch_seed = np.random.default_rng([seed, epoch, 2]).integers(2**31)
                epoch_rows = epoch_rows.shuffle(
                    min(shuffle_buffer, self.num_samples), seed=int(epoch_seed)
                )
            return epoch_rows.batch(batch_size).apply(
                tf.data.experimental.assert_cardinality(steps)
            )

        def make_batch(indices, rows, teacher_logits):
            return augmentation.labelled_augmented_batch(
                images_tensor,
                labels_tensor,
                indices,
                rows,
                mixed,
                squeeze,
                teacher_logits,
            )

        dataset = epoch_views(0)
        for epoch in range(1, self.epochs):
            dataset = dataset.concatenate(epoch_views(epoch))
        options = tf.data.Options()
        options.autotune.enabled = False  # see offline_dataset
        # As `sharded_dataset`: DATA sharding keeps views and logits paired.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return (
            dataset.map(make_batch, num_parallel_calls=2)
            .prefetch(2)
            .with_options(options)
        )

    def _parameter_path(self, epoch):
        name = self.manifest["views"]["parameter_files"][epoch]["file"]
        return os.path.join(self.directory, name)


def write_augmented_logits(
    teacher,
    x,
    directory,
    plan,
    epochs,
    batch_size=256,
    teacher_outputs="auto",
    top_k=None,
    shard_size=64 * 2**20,
    overwrite=False,
    verbose=0,
):
    """Draws `epochs` views of every image, runs `teacher` on them batch by
    batch and writes the logits and view parameters as a sharded cache.

    Args:
        teacher: A Keras model (logits or probabilities, see `kdkeras.Distiller`).
        x: Images, NumPy `(N, H, W[, C])`, as the teacher takes them.
        directory: The cache directory to create (atomically).
        plan: A `AugmentationPlan`.
        epochs: Number of views per image.
        batch_size: Views per teacher batch, and per stored record.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        top_k: Store the `k` largest logits of each view (`topk`); `None`: all.
        shard_size: Approximate bytes per shard file (an epoch's shards hold
            no other epoch's records).
        overwrite: Whether to replace an existing `directory`.
        verbose: 0 silent; 1 or 2 a Keras progress bar over the epochs.

    Returns:
        A `ShardedAugmentedCache` of `directory`.
    """
    images = augmentation.checked_images(x, plan, epochs)
    check_positive_int(batch_size, "batch_size")
    predict = teacher_predictions.batch_predictor(teacher, teacher_outputs)
    render = _augmented_renderer(images)
    progress = keras.utils.Progbar(epochs, verbose=verbose, unit_name="epoch")
    with shard_files.writing_cache(
        directory, "views", top_k=top_k, shard_size=shard_size, overwrite=overwrite
    ) as writer:
        written_files = []
        for epoch in range(epochs):
            parameters = plan.draw(len(images), images.shape[1:3], 1, epoch)
            written_files.append(
                parameter_files.write_parameters(writer.directory, epoch, parameters)
            )
            writer.start_group()
            for start in range(0, len(images), batch_size):
                indices = np.arange(start, min(start + batch_size, len(images)))
                rows = {name: value[0, indices] for name, value in parameters.items()}
                writer.write(predict(render(indices.astype("int32"), rows).numpy()))
            progress.update(epoch + 1)
        image_shape = images.shape[1:] if images.ndim == 4 else (*images.shape[1:], 1)
        writer.finish(
            teacher_fingerprint=fingerprints.fingerprint_teacher(teacher),
            data_fingerprint=fingerprints.fingerprint_data(x),
            views={
                "plan": plan.get_config(),
                "epochs": epochs,
                "num_images": len(images),
                "image_shape": [int(size) for size in image_shape],
                "batch_size": batch_size,
                "parameter_files": written_files,
            },
        )
    return read_augmented_logits(
        directory, x, allow_any_teacher=True, verify_data=False
    )


def read_augmented_logits(
    directory,
    x,
    teacher=None,
    *,
    teacher_fingerprint=None,
    allow_any_teacher=False,
    verify_data=True,
):
    """Opens a sharded view cache, refusing one of other images or another teacher.

    Args:
        directory: A cache written by `write_augmented_logits`.
        x: The images the views must be drawn from.
        teacher: The teacher (model, estimator or string id) of the logits.
        teacher_fingerprint: Or its `caches.fingerprint_teacher`.
        allow_any_teacher: Or `True`, to check only the images.
        verify_data: Check the fingerprint of `x` (one pass over the images).

    Raises:
        caches.StaleCacheError: If `x` or `teacher` differ from the stored
            fingerprints.
        ValueError: If `directory` is not such a cache, or a file of it is
            missing or damaged.
    """
    manifest = shard_files.checked_manifest(
        directory,
        "views",
        teacher,
        teacher_fingerprint,
        allow_any_teacher,
        "load_augmented_logits",
        data=x if verify_data else None,
    )
    cache_files.check_files(directory, manifest["views"]["parameter_files"], _WRITER)
    return ShardedAugmentedCache(directory, manifest)


def _augmented_renderer(images):
    """A function from image indices and their view parameters to the views.

    The images become one tensor, once: a `augmented_dataset` per epoch would
    copy them into every epoch's pipeline, and memory would grow with the
    number of epochs. The views are rendered by the function the reader's
    pipeline maps (`augmentation.labelled_augmented_batch`).
    """
    import tensorflow as tf

    squeeze = images.ndim == 3
    images_tensor = tf.constant(images[..., None] if squeeze else images)

    @tf.function(reduce_retracing=True)
    def render(indices, rows):
        return augmentation.labelled_augmented_batch(
            images_tensor, None, indices, rows, mixed=False, squeeze=squeeze
        )

    return render
