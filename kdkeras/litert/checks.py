"""Checking a `.tflite` model: its scores, and how closely it follows Keras.

```python
row = evaluate_litert("student_int8.tflite", x_test, y_test, name="student int8")
agreement = compare_with_keras(student, "student_int8.tflite", x_test)
agreement["top1_agreement"]   # e.g. 0.995
```
"""

import os

import numpy as np

from kdkeras.evaluation.scoring import classification_scores, to_class_ids
from kdkeras.litert.runner import LiteRTModel


def load_litert_model(path_or_model, num_threads=None):
    """A `LiteRTModel` from a path, or the given `LiteRTModel` unchanged.

    Args:
        path_or_model: The path of a `.tflite` file, or a `LiteRTModel`.
        num_threads: Threads of a model loaded from a path (see `LiteRTModel`);
            a given `LiteRTModel` keeps its own.
    """
    if isinstance(path_or_model, LiteRTModel):
        return path_or_model
    if isinstance(path_or_model, (str, bytes, os.PathLike)):
        return LiteRTModel(path_or_model, num_threads=num_threads)
    raise ValueError(
        "`path_or_model` must be the path of a .tflite file or a LiteRTModel. "
        f"Received: path_or_model of type {type(path_or_model).__name__}"
    )


def evaluate_litert(
    path_or_model, x, y, name=None, parameters=None, batch_size=256, verbose="auto"
):
    """Scores a `.tflite` classifier on `(x, y)`, as `evaluate_classifier` does.

    The predicted class is the argmax of the model's (dequantized) outputs.
    Precision, recall and F1 are macro averages over the classes, computed by
    `kdkeras.evaluation.classification_scores`, so LiteRT and Keras rows go in
    one `format_table`.

    Args:
        path_or_model: The path of a `.tflite` file, or a `LiteRTModel`.
        x: The inputs, real values (quantized for an integer input tensor).
        y: The labels: class ids of shape `(N,)` or `(N, 1)`, or one-hot rows.
        name: Name of the row. Defaults to the file name without extension.
        parameters: The `parameters` of the row, e.g. the
            `count_parameters` of the Keras model that was converted; `None`
            shows as `-` in a table.
        batch_size: Batch size of `LiteRTModel.predict`.
        verbose: Progress bar of `LiteRTModel.predict`.

    Returns:
        A `dict` with `name`, `accuracy`, `precision`, `recall`, `f1`,
        `parameters` and `size_bytes` (the size of the `.tflite` file).
    """
    model = load_litert_model(path_or_model)
    true_classes = to_class_ids(y)
    outputs = _single_output(model.predict(x, batch_size=batch_size, verbose=verbose))
    if outputs.ndim != 2 or outputs.shape[-1] < 2:
        raise ValueError(
            "`path_or_model` must output one score per class, of shape "
            f"(batch_size, num_classes) with num_classes >= 2. Received: outputs "
            f"of shape {outputs.shape} from {model.path!r}"
        )
    if len(true_classes) != len(outputs):
        raise ValueError(
            f"`x` and `y` must hold as many examples. Received: {len(outputs)} "
            f"predictions and {len(true_classes)} labels"
        )
    return {
        "name": model.name if name is None else str(name),
        **classification_scores(true_classes, outputs.argmax(axis=-1)),
        "parameters": None if parameters is None else int(parameters),
        "size_bytes": model.size_bytes,
    }


def compare_with_keras(keras_model, path_or_model, x, batch_size=256, verbose="auto"):
    """How closely a `.tflite` model reproduces the Keras model it came from.

    Both models run on the same real-valued `x` (quantized for an integer
    input tensor); integer outputs are dequantized before the comparison.

    Args:
        keras_model: The Keras model, with one output.
        path_or_model: The path of a `.tflite` file, or a `LiteRTModel`.
        x: The inputs.
        batch_size: Batch size of both `predict` calls.
        verbose: Progress bar of `LiteRTModel.predict`.

    Returns:
        A `dict` with `max_abs_diff` and `mean_abs_diff` (between the
        outputs), `top1_agreement` (the fraction of examples whose argmax over
        the last axis is the same in both) and `num_examples`.
    """
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
