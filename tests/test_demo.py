"""End-to-end test of examples/demo.py in its quick mode."""

import json
import os
import subprocess
import sys

import pytest

DEMO_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "demo.py"
)
MODEL_NAMES = ("teacher", "student (scratch)", "student (distilled)")
MODEL_FILES = ("teacher.keras", "student_scratch.keras", "student_distilled.keras")


def table_rows(output):
    """The lines of the comparison table below its header and rule."""
    lines = output.splitlines()
    header = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("model") and "accuracy" in line
    )
    rows = []
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        rows.append(line)
    return rows


@pytest.mark.slow
def test_quick_demo_saves_the_models_and_prints_the_table(tmp_path):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    completed = subprocess.run(
        [sys.executable, DEMO_PATH, "--quick", "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]

    for file_name in (*MODEL_FILES, "comparison.json"):
        assert (tmp_path / file_name).is_file(), file_name
    rows = table_rows(completed.stdout)
    assert len(rows) == 3, completed.stdout
    for row, name in zip(rows, MODEL_NAMES, strict=True):
        assert row.startswith(name)
    with open(tmp_path / "comparison.json", encoding="utf-8") as file:
        saved_rows = json.load(file)
    assert [row["name"] for row in saved_rows] == list(MODEL_NAMES)
