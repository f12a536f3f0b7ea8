"""The tables of docs/benchmarks.md are those `benchmarks/result_tables.py`
generates from the committed `benchmarks/results/*.json`."""

import json
import os
import pathlib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def result_tables(load_script):
    return load_script(pathlib.Path(ROOT) / "benchmarks" / "result_tables.py")


def test_the_committed_tables_are_generated_from_the_committed_results(
    result_tables,
):
    with open(result_tables.DOCS, encoding="utf-8") as file:
        text = file.read()
    rendered = result_tables.tables()
    assert rendered, "no result file with a renderer"
    assert result_tables.with_tables(text, rendered) == text


def test_every_result_file_has_a_table(result_tables):
    names = []
    for file_name in os.listdir(result_tables.RESULTS):
        with open(os.path.join(result_tables.RESULTS, file_name)) as file:
            names.append(json.load(file)["name"])
    assert sorted(names) == sorted(result_tables.tables())


def test_a_stale_table_is_replaced_and_a_missing_block_refused(result_tables):
    text = "intro\n<!-- results:x -->\nold | table\n<!-- /results:x -->\nend\n"
    assert result_tables.with_tables(text, {"x": "| new |"}) == (
        "intro\n<!-- results:x -->\n| new |\n<!-- /results:x -->\nend\n"
    )
    with pytest.raises(ValueError, match="no block <!-- results:y -->"):
        result_tables.with_tables(text, {"y": "| t |"})
