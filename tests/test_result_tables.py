"""The tables of docs/benchmarks.md are those `benchmarks/result_tables.py`
generates from the committed `benchmarks/results/*.json`."""

import json
import os
import pathlib
import re

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


def test_every_block_in_the_docs_has_a_result_file(result_tables):
    with open(result_tables.DOCS, encoding="utf-8") as file:
        text = file.read()
    blocks = re.findall(r"<!-- results:(\w+) -->", text)
    closed = re.findall(r"<!-- /results:(\w+) -->", text)
    assert blocks == closed
    assert sorted(blocks) == sorted(result_tables.tables())
    for name in blocks:
        start = text.index(f"<!-- results:{name} -->")
        assert text.index(f"<!-- /results:{name} -->") > start + len(name) + 20


def test_transcribed_files_say_so_and_every_file_says_what_ran(result_tables):
    for file_name in os.listdir(result_tables.RESULTS):
        with open(os.path.join(result_tables.RESULTS, file_name)) as file:
            result = json.load(file)
        assert result["name"] == file_name.removesuffix(".json")
        assert result["command"] and result["seeds"] and result["machine"]
        if "versions" not in result:
            assert "run log" in result["provenance"]


def test_the_benchmark_pages_speak_of_the_project_only():
    pages = [
        os.path.join(ROOT, "docs", "benchmarks.md"),
        os.path.join(ROOT, "docs", "teacher_training.md"),
        os.path.join(ROOT, "benchmarks", "README.md"),
    ]
    for path in pages:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        assert not re.search(r"\b(session|issue|stop) \d", text, re.IGNORECASE), path
    with open(pages[-1], encoding="utf-8") as file:
        assert len(file.read().splitlines()) <= 200


def test_a_stale_table_is_replaced_and_a_missing_block_refused(result_tables):
    text = "intro\n<!-- results:x -->\nold | table\n<!-- /results:x -->\nend\n"
    assert result_tables.with_tables(text, {"x": "| new |"}) == (
        "intro\n<!-- results:x -->\n| new |\n<!-- /results:x -->\nend\n"
    )
    with pytest.raises(ValueError, match="no block <!-- results:y -->"):
        result_tables.with_tables(text, {"y": "| t |"})
