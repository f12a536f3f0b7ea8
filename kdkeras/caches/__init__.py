"""Stored teacher outputs: run the teacher once, train students from its
logits with no teacher in memory.

`load_or_compute(path, teacher, x)` is the entry point: it reads the cache
at `path` when it holds this teacher's outputs for `x`, and computes it
otherwise; `open_cache(path, x, ...)` reads one made elsewhere. A `.npz`
path holds the logits in memory, a directory holds TFRecord shards read as
a stream; with an `kdkeras.augmentation.AugmentationPlan`, the logits of
`epochs` augmented copies of every image are stored (function matching at
the speed of plain training). Every cache keeps fingerprints of its teacher
and data, and a cache of another teacher or other data is refused
(`StaleCacheError`).

```python
cache = kdkeras.caches.load_or_compute("teacher.npz", teacher, x_train)
distiller = kdkeras.Distiller(teacher=None, student=student)
distiller.compile(optimizer="adam", metrics=["accuracy"])
distiller.fit(cache.dataset(x_train, y_train, batch_size=128), epochs=5)
```
"""

from kdkeras.caches.augmented_file import (
    AugmentedLogitCache,
    cache_augmented_logits,
    compute_augmented_logits,
    load_augmented_logits,
    save_augmented_logits,
)
from kdkeras.caches.fingerprints import (
    StaleCacheError,
    fingerprint_data,
    fingerprint_teacher,
)
from kdkeras.caches.logit_file import (
    LogitCache,
    cache_teacher_logits,
    load_teacher_logits,
    offline_dataset,
    save_teacher_logits,
)
from kdkeras.caches.opening import load_or_compute, open_cache
from kdkeras.caches.sharded_augmented import ShardedAugmentedCache
from kdkeras.caches.sharded_logits import (
    ShardedLogitCache,
    sharded_dataset,
    teacher_logits_dataset,
    write_sharded_logits,
)
from kdkeras.caches.stored_outputs import TeacherOutputCache
from kdkeras.caches.teacher_predictions import (
    compute_teacher_features,
    compute_teacher_logits,
    compute_teacher_logits_and_features,
)
from kdkeras.caches.topk import logits_from_top_k, top_k_logits
