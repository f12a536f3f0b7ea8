"""A Keras model timed on the runtime its device files run on.

A Keras model's own latency (a traced `tf.function`) and a `.tflite` file's
(the LiteRT interpreter) come from two runtimes with different per-call
costs, so their ratio mixes the models with the runtimes. `evaluate_model`
therefore times a Keras model through its *LiteRT twin*: its float32
conversion by `kdkeras.export.export_litert`, run by the same interpreter,
with the same threads, at batch 1, as the `.tflite` rows. The twin is made
once per model and kept while the model lives (a temporary file), so a
report that times the teacher and then scores it again converts it once.

```python
twin = litert_twin(teacher)          # a LiteRTTwin
twin.path                            # .../model_float32.tflite, or None
twin.reason                          # why there is none (then None above)
```
"""

import dataclasses
import os
import tempfile
import weakref

import keras

_TWINS = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class LiteRTTwin:
    """A Keras model's float32 LiteRT conversion, or why there is none.

    Attributes:
        path: The `.tflite` file, or `None`.
        reason: Why the model has no twin (e.g. an op without a LiteRT
            kernel, another backend than TensorFlow), or `None`.
    """

    path: str | None
    reason: str | None = None
    directory: tempfile.TemporaryDirectory | None = dataclasses.field(
        default=None, repr=False, compare=False
    )


def litert_twin(model):
    """The `LiteRTTwin` of `model`, converted on the first call.

    Args:
        model: A `keras.Model`.

    Returns:
        A `LiteRTTwin`: its `path`, or its `reason` when the model does not
        convert (the failure is remembered too: it is not tried again).
    """
    twin = _TWINS.get(model)
    if twin is None:
        twin = _convert(model)
        _TWINS[model] = twin
    return twin


def _convert(model):
    if keras.backend.backend() != "tensorflow":
        return LiteRTTwin(
            None,
            "the LiteRT conversion needs the TensorFlow backend "
            f"(this is {keras.backend.backend()})",
        )
    # Imported here: kdkeras.export scores its files with kdkeras.evaluation.
    from kdkeras.export.converter import export_litert
    from kdkeras.export.converter_errors import ExportError

    directory = tempfile.TemporaryDirectory(prefix="kdkeras-litert-twin-")
    path = os.path.join(directory.name, "model_float32.tflite")
    try:
        export_litert(model, path)
    except (ExportError, ValueError) as error:
        directory.cleanup()
        return LiteRTTwin(None, str(error).splitlines()[0])
    return LiteRTTwin(path, None, directory)
