"""Class folder names are class names (`kdkeras.pipeline.folders`): a folder
named with a newline, a tab, a backslash or leading spaces is refused by
`kdkeras run`, `kdkeras init`, `kdkeras export` and `kdkeras report`,
naming the key and the folder, before anything trains or is written."""

import pytest
from click.testing import CliRunner
from PIL import Image

from kdkeras.cli.main import cli
from kdkeras.config import ConfigError
from kdkeras.pipeline.folders import class_folders
from kdkeras.pipeline.text_folder import read_text_folder

BAD_FOLDERS = [
    ("a\nb", "'a\\nb': expected a class name without control characters"),
    ("a\tb", "'a\\tb': expected a class name without control characters"),
    ("a\\b", "'a\\\\b': expected a class name without a backslash"),
    (" cat", "' cat': expected a class name without leading or trailing spaces"),
]


def write_folder(directory, names, suffix="png"):
    """3 tiny grayscale images (or texts) in a class folder of each name."""
    for name in names:
        (directory / name).mkdir(parents=True)
        for index in range(3):
            path = directory / name / f"{index}.{suffix}"
            if suffix == "txt":
                path.write_text(f"text {index} of {name!r}", encoding="utf-8")
            else:
                Image.new("L", (8, 8), 40 * index).save(path)
    return directory


@pytest.mark.parametrize("name, words", BAD_FOLDERS)
def test_a_bad_folder_name_is_refused_with_the_key(tmp_path, name, words):
    folder = write_folder(tmp_path / "photos", ["dog", name])
    with pytest.raises(ConfigError) as caught:
        class_folders(folder, "data.test_path")
    (problem,) = caught.value.problems
    assert problem.startswith(f"data.test_path: class folder {words}")
    assert problem.endswith("(rename the folder)")
    with pytest.raises(ConfigError, match="data.path: class folder"):
        read_text_folder(
            write_folder(tmp_path / "texts", ["dog", name], "txt"), "data.path"
        )


def test_good_folder_names_are_listed_sorted(tmp_path):
    folder = write_folder(tmp_path / "photos", ["dog", "Cat #1", "猫"])
    (folder / ".hidden").mkdir()
    assert class_folders(folder) == ["Cat #1", "dog", "猫"]


@pytest.mark.parametrize("name, words", BAD_FOLDERS[:2])
def test_run_refuses_a_bad_folder_name_before_the_run_folder(
    tmp_path, tiny_teacher_path, run_refused, name, words
):
    folder = write_folder(tmp_path / "photos", ["dog", "owl", name])
    output = run_refused(
        {
            "data": {
                "source": "image_folder",
                "path": str(folder),
                "image_size": [28, 28],
                "color_mode": "grayscale",
            },
            "teacher": {"path": tiny_teacher_path},
            "scratch": {"epochs": 1},
            "distill": {"epochs": 1},
        }
    )
    assert f"data.path: class folder {words}" in output


@pytest.mark.parametrize("suffix", ["png", "txt"])
def test_init_refuses_a_bad_folder_name(tmp_path, suffix):
    folder = write_folder(tmp_path / "data", ["dog", "a\nb"], suffix)
    config_path = tmp_path / "kdkeras.yaml"
    result = CliRunner().invoke(
        cli, ["init", "--data", str(folder), "-o", str(config_path)]
    )
    assert result.exit_code == 2, result.output
    assert "--data: class folder 'a\\nb': expected a class name without control" in (
        result.output
    )
    assert not config_path.exists()


def test_export_refuses_a_bad_folder_name(tmp_path, tiny_teacher_path):
    folder = write_folder(tmp_path / "photos", ["dog", "owl", "a\tb"])
    package = tmp_path / "package"
    result = CliRunner().invoke(
        cli,
        ["export", tiny_teacher_path, "--output", str(package), "--data", str(folder)],
    )
    assert result.exit_code == 2, result.output
    assert "--data: class folder 'a\\tb': expected a class name without" in (
        result.output
    )
    assert not package.exists()
