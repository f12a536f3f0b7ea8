"""What every cache of teacher outputs offers, whatever its format.

`open_cache` and `load_or_compute` return one of four formats, all with
`epochs` (how many epochs of outputs it holds: 1 for plain logits, one per
epoch of augmented images), `steps_per_epoch(num_samples, batch_size)` and
`dataset(x, y, ...)`, the `(inputs, (labels, teacher_logits))` batches a
`Distiller(teacher=None)` trains on:

```python
cache = kdkeras.caches.load_or_compute("teacher.npz", teacher, x_train)
distiller.fit(
    cache.dataset(x_train, y_train, batch_size=128),
    epochs=cache.epochs,
    steps_per_epoch=cache.steps_per_epoch(len(x_train), 128),
)
```
"""

from kdkeras import batches


class TeacherOutputCache:
    """The interface shared by `LogitCache`, `ShardedLogitCache`,
    `AugmentedLogitCache` and `ShardedAugmentedCache`.

    Attributes:
        epochs: Epochs of teacher outputs stored (1 without augmentation).
        top_k: Logits stored per example (`kdkeras.caches.topk`), or `None`
            for all.
        teacher_features: The outputs of named teacher layers stored beside
            the logits, `{layer: array (num_samples, ...)}`, for feature
            methods trained offline (a `.npz` `LogitCache` made with
            `feature_layers`), or `None`.
    """

    epochs = 1
    top_k = None
    teacher_features = None

    def steps_per_epoch(self, num_samples, batch_size):
        """Batches of `batch_size` per epoch of `num_samples` examples."""
        return batches.steps_per_epoch(num_samples, batch_size)

    def dataset(self, x, y, batch_size=32, shuffle=True, seed=None):
        """`(inputs, (labels, teacher_logits))` batches of `x` and `y`."""
        raise NotImplementedError
