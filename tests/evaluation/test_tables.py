"""Tests of kdkeras.evaluation.tables: plain-text and Markdown tables, JSON."""

import json
import os

import numpy as np
import pytest

from kdkeras import evaluation

# format_table

ROWS = [
    {
        "name": "teacher",
        "accuracy": 0.87654,
        "precision": 0.8,
        "recall": 0.75,
        "f1": 0.7,
        "parameters": 111146,
        "size_bytes": 2 * 1024**2,
    },
    {
        "name": "student (distilled)",
        "accuracy": 0.5,
        "precision": 0.25,
        "recall": 0.125,
        "f1": 0.0625,
        "parameters": 950,
        "size_bytes": 512,
    },
]


def test_format_table_shows_every_name_and_number():
    table = evaluation.format_table(ROWS)
    for text in (
        "teacher",
        "student (distilled)",
        "0.8765",
        "0.8000",
        "0.7500",
        "0.7000",
        "111,146",
        "2.00 MB",
        "0.5000",
        "0.2500",
        "0.1250",
        "0.0625",
        "950",
        "0.5 KB",
    ):
        assert text in table, text


def test_format_table_is_aligned():
    lines = evaluation.format_table(ROWS).splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert lines[0].split() == [
        "model",
        "accuracy",
        "precision",
        "recall",
        "F1",
        "parameters",
        "size",
    ]
    assert set(lines[1]) == {"-", " "}
    # Names are left-aligned, numbers right-aligned: every line ends together.
    assert len({len(line) for line in lines}) == 1
    assert lines[3].startswith("student (distilled)")
    assert lines[2].index("0.8765") == lines[3].index("0.5000")


def test_format_table_shows_a_dash_for_a_missing_value():
    row = dict(ROWS[0], size_bytes=None)
    assert evaluation.format_table([row]).splitlines()[2].endswith(" -")


@pytest.mark.parametrize(
    "num_bytes, text",
    [
        (0, "0.0 KB"),
        (1536, "1.5 KB"),
        (1024**2 - 1, "1024.0 KB"),
        (3 * 1024**2, "3.00 MB"),
    ],
)
def test_format_size(num_bytes, text):
    assert evaluation.format_size(num_bytes) == text


def test_markdown_table_cells_match_the_plain_table():
    rows = [{"name": "a", "accuracy": 0.5, "parameters": 1234, "size_bytes": 2048}]
    table = evaluation.format_markdown_table(rows)
    assert table.splitlines()[0].startswith("| model | accuracy |")
    assert table.splitlines()[1].startswith("|:---|---:|")
    assert table.splitlines()[2] == ("| a | 0.5000 | - | - | - | 1,234 | 2.0 KB |")


# save_rows_json


def test_save_rows_json_writes_readable_json(tmp_path):
    path = tmp_path / "results" / "comparison.json"
    rows = [dict(ROWS[0], accuracy=np.float32(0.5), parameters=np.int64(7))]
    assert evaluation.save_rows_json(rows, path) == path
    with open(path, encoding="utf-8") as file:
        loaded = json.load(file)
    assert loaded == [dict(ROWS[0], accuracy=0.5, parameters=7)]


def test_save_rows_json_replaces_an_existing_file(tmp_path):
    path = tmp_path / "comparison.json"
    evaluation.save_rows_json(ROWS, path)
    evaluation.save_rows_json(ROWS[:1], path)
    with open(path, encoding="utf-8") as file:
        assert json.load(file) == ROWS[:1]
    assert os.listdir(tmp_path) == ["comparison.json"]


def test_save_rows_json_failure_leaves_the_old_file_untouched(tmp_path):
    path = tmp_path / "comparison.json"
    evaluation.save_rows_json(ROWS, path)
    with pytest.raises(TypeError, match="not JSON serializable"):
        evaluation.save_rows_json([{"name": object()}], path)
    with open(path, encoding="utf-8") as file:
        assert json.load(file) == ROWS
    assert os.listdir(tmp_path) == ["comparison.json"]
