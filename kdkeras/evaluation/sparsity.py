"""Sparsity of a model's kernels and its size after compression.

Pure Keras 3 and NumPy (no tfmot): the comparison report uses these on any
model, and `kdkeras.optimize.prune` on the models it prunes.

```python
kdkeras.sparsity.sparsity_report(model)   # {"layers": {...}, "overall": 0.5}
kdkeras.sparsity.gzipped_size_bytes(model)
kdkeras.sparsity.gzipped_size_bytes("model_int8.tflite")
```
"""

import gzip
import io
import os

import numpy as np

PRUNED_SPARSITY = 0.01
"""Kernel sparsity above which a model counts as pruned: trained dense kernels
have next to no exact zeros."""


def is_pruned(model):
    """Whether more than `PRUNED_SPARSITY` of `model`'s kernel entries are 0."""
    return sparsity_report(model)["overall"] > PRUNED_SPARSITY


def layer_kernel(layer):
    """The `kernel` or `depthwise_kernel` of `layer`, or `None`."""
    for name in ("kernel", "depthwise_kernel"):
        kernel = getattr(layer, name, None)
        if kernel is not None:
            return kernel
    return None


def sparsity_report(model):
    """The fraction of exact zeros in each kernel of `model`.

    Works on Keras 3 and `tf_keras` models; nested models are looked into.

    Args:
        model: A model.

    Returns:
        `{"layers": {layer_name: sparsity}, "overall": sparsity}`, where
        `overall` counts all kernel entries together.
    """
    layers = {}
    zeros = total = 0
    for layer in _flat_layers(model):
        kernel = layer_kernel(layer)
        if kernel is None:
            continue
        values = np.asarray(kernel)
        layer_zeros = int(np.count_nonzero(values == 0))
        layers[layer.name] = layer_zeros / values.size
        zeros += layer_zeros
        total += values.size
    return {"layers": layers, "overall": zeros / total if total else 0.0}


def _flat_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer_kernel(layer) is None:
            yield from _flat_layers(layer)
        else:
            yield layer


def gzipped_size_bytes(model_or_path):
    """Size in bytes of a model's weights (or of a file) after gzip.

    Pruned zeros compress away, so this is the size that pruning saves in a
    compressed download.

    Args:
        model_or_path: A Keras 3 or `tf_keras` model, or a file path (e.g. a
            `.tflite`).
    """
    if isinstance(model_or_path, (str, os.PathLike)):
        with open(model_or_path, "rb") as file:
            payload = file.read()
    else:
        buffer = io.BytesIO()
        for weight in model_or_path.get_weights():
            np.save(buffer, np.asarray(weight), allow_pickle=False)
        payload = buffer.getvalue()
    return len(gzip.compress(payload, compresslevel=9, mtime=0))
