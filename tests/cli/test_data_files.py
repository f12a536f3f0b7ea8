"""`kdkeras report --labels` and `kdkeras export --labels`: label files are
checked as class names, and labels in another order than the data's classes
are refused, naming both orders (the rows of the report would be swapped)."""

import pytest
from click.testing import CliRunner

from kdkeras.cli.data_files import check_label_order
from kdkeras.cli.main import cli
from kdkeras.config import ConfigError


def test_the_same_names_in_another_order_are_refused():
    with pytest.raises(ConfigError) as caught:
        check_label_order(["dog", "cat"], ["cat", "dog"])
    (problem,) = caught.value.problems
    assert problem.startswith(
        "--labels: expected the classes of --data in its order, ['cat', 'dog']; "
        "received ['dog', 'cat']"
    )


@pytest.mark.parametrize(
    "labels, data_names",
    [(["cat", "dog"], ["cat", "dog"]), (["Cat", "Dog"], ["c", "d"]), (["a"], None)],
)
def test_the_data_order_other_names_or_no_data_names_are_kept(labels, data_names):
    check_label_order(labels, data_names)


def write_labels(path, names):
    path.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    return path


def test_report_refuses_labels_in_another_order(
    tmp_path, tiny_teacher_path, image_folder
):
    labels = write_labels(tmp_path / "labels.txt", ["trouser", "sneaker", "bag"])
    output = tmp_path / "report"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            tiny_teacher_path,
            "--data",
            str(image_folder),
            "--labels",
            str(labels),
            "--output",
            str(output),
            "--latency-runs",
            "0",
        ],
    )
    assert result.exit_code == 2, result.output
    assert (
        "--labels: expected the classes of --data in its order, ['bag', 'sneaker', "
        "'trouser']; received ['trouser', 'sneaker', 'bag']" in result.output
    )
    assert not output.exists()


@pytest.mark.parametrize(
    "names, words",
    [
        (["bag", "bag", "x"], "expected each class name once; received 'bag' 2 times"),
        (["bag", "..", "x"], "class name '..': expected a class name that is not"),
        (["bag", "a\\b", "x"], "class name 'a\\\\b': expected a class name without"),
    ],
)
def test_export_refuses_a_bad_labels_file(tmp_path, tiny_teacher_path, names, words):
    labels = write_labels(tmp_path / "labels.txt", names)
    package = tmp_path / "package"
    result = CliRunner().invoke(
        cli,
        [
            "export",
            tiny_teacher_path,
            "--output",
            str(package),
            "--labels",
            str(labels),
            "-q",
            "float32",
        ],
    )
    assert result.exit_code == 2, result.output
    assert f"--labels: {words}" in result.output
    assert not package.exists()
