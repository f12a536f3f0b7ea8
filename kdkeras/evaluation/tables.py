"""Rows of scores as a plain-text or Markdown table, and as JSON.

A row is a `dict` of plain Python values, e.g. from `evaluate_model`:

```python
rows = compare_models({"teacher": teacher, "student": student}, x_test, y_test)
print(format_table(rows))
save_rows_json(rows, "comparison.json")
```
"""

import collections
import json

import numpy as np

from kdkeras.io_utils import atomic_path

Column = collections.namedtuple("Column", ["header", "key", "format", "align"])
"""A column of `format_table`: the row `key` shown as `format(value)`.

`align` is `"<"` (left) or `">"` (right). A row without the key shows `-`.
"""


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
