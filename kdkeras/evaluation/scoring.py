"""Scoring and comparing classifiers: accuracy, macro F1, parameters, size.

Each evaluation gives a row, a `dict` of plain Python values, so rows print as
a table (`format_table`) and save as JSON (`save_rows_json`):

```python
rows = compare_models(
    {"teacher": teacher, "student (distilled)": distiller.student}, x_test, y_test
)
print(format_table(rows))
save_rows_json(rows, "comparison.json")
```
"""

import collections
import collections.abc
import json
import os
import tempfile

import keras
import numpy as np
from sklearn import metrics as sklearn_metrics

from kdkeras.io_utils import atomic_path

Column = collections.namedtuple("Column", ["header", "key", "format", "align"])
"""A column of `format_table`: the row `key` shown as `format(value)`.

`align` is `"<"` (left) or `">"` (right). A row without the key shows `-`.
"""


def count_parameters(model):
    """The number of weights of `model`, trainable or not.

    Includes non-trainable state such as BatchNormalization's moving
    statistics, as `model.summary()` does in its total.
    """
    return int(model.count_params())


def model_size_bytes(model, include_optimizer=False):
    """The size in bytes of `model` saved as a `.keras` file.

    The model is saved into a temporary directory that is then removed.

    Args:
        model: A Keras model.
        include_optimizer: Whether to count the optimizer's state. By default
            it is left out, so the size is that of the model to deploy, the
            same whether or not the model was compiled and trained: Adam's
            state alone holds two values per weight. It can only be left out
            of functional and Sequential models; a subclassed model is saved
            as it is.

    Returns:
        The file size in bytes, an `int`.
    """
    if not include_optimizer:
        model = _without_optimizer(model)
    with tempfile.TemporaryDirectory(prefix="kdkeras-size-") as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        return os.path.getsize(path)


def _without_optimizer(model):
    """`model` without optimizer state, also that of nested compiled models.

    A nested model compiled on its own (a fine-tuned teacher inside a wrapper)
    would otherwise save its optimizer with the wrapper.
    """
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        return model  # A subclassed model has no symbolic graph to rewire.
    if not inputs or not outputs:
        return model
    if getattr(model, "optimizer", None) is not None:
        model = keras.Model(inputs, outputs, name=model.name)
    nested_models = [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.Model)
    ]
    if all(getattr(nested, "optimizer", None) is None for nested in nested_models):
        return model
    # Cloning rebuilds nested models from their configs, uncompiled.
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def evaluate_classifier(model, x, y, batch_size=256, name=None):
    """Scores a classifier on `(x, y)`.

    The predicted class is the argmax of `model.predict(x)`, so the model may
    output logits or probabilities. Precision, recall and F1 are macro
    averages over the classes (`sklearn.metrics`, `zero_division=0`).

    Args:
        model: A Keras classifier with one output of shape
            `(batch_size, num_classes)`, `num_classes >= 2`.
        x: The inputs.
        y: The labels: class ids of shape `(N,)` or `(N, 1)`, or one-hot (or
            probability) rows of shape `(N, num_classes)`.
        batch_size: Batch size of `model.predict`.
        name: Name of the row. Defaults to `model.name`.

    Returns:
        A `dict` with `name`, `accuracy`, `precision`, `recall`, `f1`
        (floats in [0, 1]), `parameters` (see `count_parameters`) and
        `size_bytes` (see `model_size_bytes`).
    """
    true_classes = to_class_ids(y)
    outputs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    if outputs.ndim != 2 or outputs.shape[-1] < 2:
        raise ValueError(
            "`model` must output one score per class, of shape "
            f"(batch_size, num_classes) with num_classes >= 2. Received: "
            f"outputs of shape {outputs.shape} from model {model.name!r}"
        )
    if len(true_classes) != len(outputs):
        raise ValueError(
            f"`x` and `y` must hold as many examples. Received: {len(outputs)} "
            f"predictions and {len(true_classes)} labels"
        )
    predicted_classes = outputs.argmax(axis=-1)
    return {
        "name": model.name if name is None else str(name),
        **classification_scores(true_classes, predicted_classes),
        "parameters": count_parameters(model),
        "size_bytes": model_size_bytes(model),
    }


def to_class_ids(y):
    """Class ids of shape `(N,)` from sparse labels or one-hot rows."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[-1] > 1:
        return y.argmax(axis=-1)
    if y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            "`y` must be class ids of shape (N,) or (N, 1), or one-hot labels "
            f"of shape (N, num_classes). Received: y of shape {y.shape}"
        )
    return y.astype(np.int64)


def classification_scores(true_classes, predicted_classes):
    """Accuracy and macro precision, recall and F1 of predicted class ids."""
    precision, recall, f1, _ = sklearn_metrics.precision_recall_fscore_support(
        true_classes, predicted_classes, average="macro", zero_division=0
    )
    return {
        "accuracy": float(
            sklearn_metrics.accuracy_score(true_classes, predicted_classes)
        ),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }


def compare_models(models, x, y, batch_size=256):
    """Scores several classifiers on the same data.

    Args:
        models: A `dict` from row name to Keras model, e.g.
            `{"teacher": teacher, "student (distilled)": student}`.
        x: The inputs.
        y: The labels (class ids or one-hot).
        batch_size: Batch size of `model.predict`.

    Returns:
        A list of `evaluate_classifier` rows, in the order of `models`.
    """
    if not isinstance(models, collections.abc.Mapping) or not models:
        raise ValueError(
            "`models` must be a non-empty dict from name to model. "
            f"Received: models={models!r}"
        )
    return [
        evaluate_classifier(model, x, y, batch_size=batch_size, name=name)
        for name, model in models.items()
    ]


def format_size(num_bytes):
    """A byte count as KB or MB (1 KB = 1024 bytes, as `model.summary()`)."""
    if num_bytes < 1024**2:
        return f"{num_bytes / 1024:.1f} KB"
    return f"{num_bytes / 1024**2:.2f} MB"


def _format_score(value):
    return f"{value:.4f}"


DEFAULT_COLUMNS = (
    Column("model", "name", str, "<"),
    Column("accuracy", "accuracy", _format_score, ">"),
    Column("precision", "precision", _format_score, ">"),
    Column("recall", "recall", _format_score, ">"),
    Column("F1", "f1", _format_score, ">"),
    Column("parameters", "parameters", "{:,}".format, ">"),
    Column("size", "size_bytes", format_size, ">"),
)
"""The columns `format_table` shows by default."""


def format_table(rows, columns=DEFAULT_COLUMNS):
    """Formats rows as an aligned plain-text table.

    Scores have 4 decimals, parameters a thousands separator and sizes a unit
    (see `format_size`).

    Args:
        rows: A list of row `dict`s, e.g. from `compare_models`.
        columns: The `Column`s to show, in order.

    Returns:
        The table as a `str`: a header line, a rule, then one line per row.
    """
    cells = [[column.header for column in columns]]
    for row in rows:
        cells.append([_format_cell(row, column) for column in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [_format_line(line, columns, widths) for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_markdown_table(rows, columns=DEFAULT_COLUMNS):
    """Formats rows as a Markdown table, with the cells of `format_table`."""
    alignments = {"<": ":---", ">": "---:"}
    lines = [
        "| " + " | ".join(column.header for column in columns) + " |",
        "|" + "|".join(alignments[column.align] for column in columns) + "|",
    ]
    for row in rows:
        cells = (_format_cell(row, column) for column in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format_cell(row, column):
    value = row.get(column.key)
    return "-" if value is None else column.format(value)


def _format_line(cells, columns, widths):
    padded = (
        f"{cell:{column.align}{width}}"
        for cell, column, width in zip(cells, columns, widths, strict=True)
    )
    return "  ".join(padded).rstrip()


def save_rows_json(rows, path):
    """Writes rows as a JSON list, atomically (never a half-written file).

    NumPy scalars and arrays are written as plain numbers and lists. An
    existing file at `path` is replaced.

    Args:
        rows: A list of row `dict`s, e.g. from `compare_models`.
        path: The JSON file to write.

    Returns:
        `path`.
    """
    with atomic_path(path, overwrite=True) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            json.dump(list(rows), file, indent=2, default=_to_json_value)
            file.write("\n")
    return path


def _to_json_value(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(
        f"Object of type {type(value).__name__} is not JSON serializable: {value!r}"
    )
