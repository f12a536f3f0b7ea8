"""The documentation site builds with `mkdocs build --strict`.

Under `--strict` every warning fails the build: a link to a missing page or
anchor, a page left out of the navigation's files, a `::: kdkeras.<module>`
reference to a module that no longer exists, or a docstring that griffe (the
API reference's parser) cannot read.
"""

import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("mkdocs", reason="the docs extra is not installed")
pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings-python")
pytest.importorskip("material", reason="mkdocs-material")


def test_docs_build_strict(tmp_path):
    site_dir = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            os.path.join(REPO_ROOT, "mkdocs.yml"),
            "--site-dir",
            str(site_dir),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`mkdocs build --strict` failed (exit code {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    # The API reference was generated from the docstrings, not left empty.
    distiller_page = (site_dir / "api" / "distillation" / "index.html").read_text(
        encoding="utf-8"
    )
    assert 'id="kdkeras.distillation"' in distiller_page
    assert "Distiller" in distiller_page
