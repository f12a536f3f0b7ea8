"""Checking a `.tflite` model: how closely it follows the Keras model.

```python
agreement = compare_with_keras(student, "student_int8.tflite", x_test)
agreement["top1_agreement"]   # e.g. 0.995
```

Its scores are a row of `kdkeras.evaluation.evaluate_model`, as for a Keras
model.
"""

import os

import numpy as np

from kdkeras.compat import is_tf_keras_model
from kdkeras.litert.litert_model import LiteRTModel
from kdkeras.validation import (
    check_keras_model,
    check_single_output,
    check_tflite_file,
)


def load_litert_model(path_or_model, num_threads=None, argument_name="path_or_model"):
    """A `LiteRTModel` from a path, or the given `LiteRTModel` unchanged.

    Args:
        path_or_model: The path of a `.tflite` file, or a `LiteRTModel`.
        num_threads: Threads of a model loaded from a path (see `LiteRTModel`);
            a given `LiteRTModel` keeps its own.
        argument_name: The argument named in errors.
    """
    if isinstance(path_or_model, LiteRTModel):
        return path_or_model
    if isinstance(path_or_model, (str, bytes, os.PathLike)):
        path = check_tflite_file(path_or_model, argument_name)
        return LiteRTModel(path, num_threads=num_threads)
    raise ValueError(
        f"`{argument_name}` must be the path of a .tflite file or a LiteRTModel. "
        f"Received: {argument_name} of type {type(path_or_model).__name__}"
    )


def compare_with_keras(keras_model, path_or_model, x, batch_size=256, verbose="auto"):
    """How closely a `.tflite` model reproduces the Keras model it came from.

    Both models run on the same real-valued `x` (quantized for an integer
    input tensor); integer outputs are dequantized before the comparison.

    Args:
        keras_model: The Keras model, with one output (or a `tf_keras` model,
            such as the quantization-aware `kdkeras.optimize.QATResult.model`).
        path_or_model: The path of a `.tflite` file, or a `LiteRTModel`.
        x: The inputs.
        batch_size: Batch size of both `predict` calls.
        verbose: Progress bar of `LiteRTModel.predict`.

    Returns:
        A `dict` with `max_abs_diff` and `mean_abs_diff` (between the
        outputs), `max_abs_keras_output` (the largest absolute Keras output,
        the scale of the differences), `top1_agreement` (the fraction of
        examples whose argmax over the last axis is the same in both) and
        `num_examples`.
    """
    if not is_tf_keras_model(keras_model):  # E.g. tfmot's QAT model.
        check_keras_model(keras_model, "keras_model")
    check_single_output(keras_model, "keras_model")
    model = load_litert_model(path_or_model)
    litert_outputs = _single_output(
        model.predict(x, batch_size=batch_size, verbose=verbose)
    )
    keras_outputs = np.asarray(
        keras_model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32
    )
    if keras_outputs.shape != litert_outputs.shape:
        raise ValueError(
            "`keras_model` and `path_or_model` must give outputs of the same shape. "
            f"Received: {keras_outputs.shape} from Keras and "
            f"{litert_outputs.shape} from {model.path!r}"
        )
    differences = np.abs(keras_outputs - litert_outputs)
    empty = differences.size == 0
    agreement = keras_outputs.argmax(axis=-1) == litert_outputs.argmax(axis=-1)
    return {
        "max_abs_diff": 0.0 if empty else float(differences.max()),
        "mean_abs_diff": 0.0 if empty else float(differences.mean()),
        "max_abs_keras_output": 0.0 if empty else float(np.abs(keras_outputs).max()),
        "top1_agreement": float(agreement.mean()) if agreement.size else 1.0,
        "num_examples": len(keras_outputs),
    }


def _single_output(outputs):
    if isinstance(outputs, list):
        raise ValueError(
            "`path_or_model` must have one output. Received: a model with "
            f"{len(outputs)} outputs"
        )
    return outputs
