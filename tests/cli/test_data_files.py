"""`kdkeras report --labels` and `kdkeras export --labels`: label files are
checked as class names, and labels in another order than the data's classes
are refused, naming the file and both orders (the rows of the report would
be swapped; the package's labels.txt would name the outputs wrongly, so
export also refuses other names)."""

import numpy as np
import pytest
from cli_helpers import assert_refused, invoke

from kdkeras.cli.data_files import check_label_order
from kdkeras.config import ConfigError


@pytest.mark.parametrize("renaming", [True, False])
def test_the_same_names_in_another_order_are_refused(renaming):
    with pytest.raises(ConfigError) as caught:
        check_label_order(["dog", "cat"], ["cat", "dog"], "l.txt", renaming)
    (problem,) = caught.value.problems
    assert problem.startswith(
        "--labels: l.txt: expected the classes of --data in its order, "
        "['cat', 'dog']; received ['dog', 'cat']"
    )


@pytest.mark.parametrize(
    "labels, data_names",
    [(["cat", "dog"], ["cat", "dog"]), (["Cat", "Dog"], ["c", "d"]), (["a"], None)],
)
def test_the_data_order_other_names_or_no_data_names_are_kept(labels, data_names):
    check_label_order(labels, data_names, "l.txt")


@pytest.mark.parametrize(
    "labels, data_names",
    [(["Cat", "Dog"], ["cat", "dog"]), (["cat"], ["cat", "dog"])],
)
def test_other_names_are_refused_without_renaming(labels, data_names):
    """`kdkeras export`: labels.txt names the model's outputs, in the order
    of the data it was trained on."""
    with pytest.raises(ConfigError, match=r"--labels: l.txt: .*\['cat', 'dog'\]"):
        check_label_order(labels, data_names, "l.txt", renaming=False)
    check_label_order(["cat", "dog"], ["cat", "dog"], "l.txt", renaming=False)


def write_labels(path, names):
    path.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    return path


def test_report_refuses_labels_in_another_order(
    tmp_path, tiny_teacher_path, image_folder
):
    labels = write_labels(tmp_path / "labels.txt", ["trouser", "sneaker", "bag"])
    output = tmp_path / "report"
    result = invoke(
        "report",
        tiny_teacher_path,
        "--data",
        image_folder,
        "--labels",
        labels,
        "--output",
        output,
        "--latency-runs",
        0,
    )
    assert_refused(
        result,
        2,
        f"--labels: {labels}: expected the classes of --data in its order, "
        "['bag', 'sneaker', 'trouser']; received ['trouser', 'sneaker', 'bag']",
    )
    assert not output.exists()


def write_npz(path, class_names):
    """A `.npz` of 6 training images of 28×28 and its `class_names`."""
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.random((6, 28, 28, 1), dtype="float32"),
        y_train=np.arange(6) % 3,
        class_names=np.array(class_names),
    )
    return path


@pytest.mark.parametrize(
    "data, names",
    [
        ("folder", ["trouser", "sneaker", "bag"]),
        ("folder", ["bag", "sneaker", "shirt"]),
        ("folder", ["bag", "sneaker"]),
        ("npz", ["trouser", "sneaker", "bag"]),
        ("npz", ["Bag", "Sneaker", "Trouser"]),
    ],
    ids=["folder-order", "folder-other-name", "folder-fewer", "npz-order", "npz-set"],
)
def test_export_refuses_labels_that_are_not_the_data_classes_in_order(
    tmp_path, tiny_teacher_path, image_folder, data, names
):
    if data == "npz":
        data = write_npz(tmp_path / "data.npz", ["bag", "sneaker", "trouser"])
    else:
        data = image_folder
    labels = write_labels(tmp_path / "labels.txt", names)
    package = tmp_path / "package"
    result = invoke(
        "export",
        tiny_teacher_path,
        "--output",
        package,
        "--data",
        data,
        "--labels",
        labels,
        "-q",
        "float32",
    )
    assert_refused(
        result,
        2,
        f"--labels: {labels}: expected the classes of --data in its order, "
        f"['bag', 'sneaker', 'trouser']; received {names}",
    )
    assert not package.exists()


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
    result = invoke(
        "export",
        tiny_teacher_path,
        "--output",
        package,
        "--labels",
        labels,
        "-q",
        "float32",
    )
    assert_refused(result, 2, f"--labels: {words}")
    assert not package.exists()
