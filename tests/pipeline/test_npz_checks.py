"""A data `.npz` is checked whole before the first stage
(`kdkeras.pipeline.npz_checks`): NaN or infinite pixels, x and y of other
lengths, labels outside the classes and bad or repeated class names are
refused by key and array, and no run folder is made."""

import numpy as np
import pytest

from kdkeras.config import ConfigError, validate_config
from kdkeras.pipeline.run_data import load_run_data


def write_npz(path, **changes):
    """A 3-class `.npz` of 30 8×8 training and 9 test images, with `changes`
    (a value of `None` leaves the array out)."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.random((30, 8, 8), dtype="float32"),
        "y_train": np.arange(30) % 3,
        "x_test": rng.random((9, 8, 8), dtype="float32"),
        "y_test": np.arange(9) % 3,
        "class_names": np.array(["cat", "dog", "owl"]),
    }
    arrays.update(changes)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def problems_of(path):
    """The lines of the `ConfigError` that loading `path` raises."""
    section = validate_config({"data": {"source": "npz", "path": str(path)}}).data
    with pytest.raises(ConfigError) as caught:
        load_run_data(section, seed=0)
    return caught.value.problems


def nan_pixels():
    x = np.random.default_rng(1).random((30, 8, 8), dtype="float32")
    x[4, 0, :3] = np.nan
    x[7, 1, 1] = np.inf
    return x


@pytest.mark.parametrize(
    "changes, expected",
    [
        (
            {"x_train": nan_pixels()},
            "data.path: x_train holds 3 NaN values and 1 infinite values, in 2 "
            "examples (the first is example 4); expected finite pixels or features",
        ),
        (
            {"y_train": np.arange(29) % 3},
            "data.path: expected one label per example; received x_train with 30 "
            "examples and y_train with 29 labels",
        ),
        (
            {"y_test": np.array([0, 1, 2, 0, 1, 2, 0, 1, 3])},
            "data.path: y_test: expected class ids in [0, 3), one per class of the "
            "3 class_names; received class ids from 0 to 3",
        ),
        (
            {"y_train": np.arange(30) % 3 - 1},
            "data.path: y_train: expected class ids in [0, 3), one per class of "
            "the 3 class_names; received class ids from -1 to 1",
        ),
        (
            {"class_names": np.array(["cat", "dog", "cat"])},
            "data.path: expected each class name once; received 'cat' 2 times",
        ),
        (
            {"class_names": np.array(["cat", "dog\nowl", "owl"])},
            "data.path: class_names entry 'dog\\nowl': expected a class name "
            "without control characters",
        ),
        (
            {"class_names": np.array(["cat", "", "../owl"])},
            "data.path: class_names entry '': expected a non-empty class name",
        ),
        (
            {"y_train": np.eye(3, dtype="int64")[np.arange(30) % 3]},
            "data.path: y_train: expected class ids of shape (N,) or (N, 1); "
            "received shape (30, 3)",
        ),
        (
            {"y_train": (np.arange(30) % 3).astype("float32")},
            "data.path: y_train: expected integer class ids; received dtype float32",
        ),
        (
            {"x_test": np.zeros((9, 6, 6), "float32")},
            "data.path: x_test: expected examples of x_train's shape (8, 8); "
            "received (6, 6)",
        ),
        (
            {"class_names": np.array([b"cat", b"\xff", b"owl"])},
            "data.path: class_names: expected UTF-8 names",
        ),
    ],
)
def test_each_bad_array_is_named_by_key(tmp_path, changes, expected):
    problems = problems_of(write_npz(tmp_path / "data.npz", **changes))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_problem_is_named_at_once(tmp_path):
    path = write_npz(
        tmp_path / "data.npz",
        x_train=nan_pixels(),
        class_names=np.array(["cat", "cat", ".."]),
    )
    problems = problems_of(path)
    assert [problem.split(";")[0][:40] for problem in problems] == [
        "data.path: x_train holds 3 NaN values an",
        "data.path: class_names entry '..': expec",
        "data.path: expected each class name once",
    ]


def test_byte_class_names_are_decoded_not_written_as_bytes(tmp_path):
    path = write_npz(tmp_path / "data.npz", class_names=np.array([b"cat", b"d", b"o"]))
    section = validate_config({"data": {"source": "npz", "path": str(path)}}).data
    assert load_run_data(section, seed=0).class_names == ["cat", "d", "o"]


def test_a_file_that_is_no_npz_is_named(tmp_path):
    path = tmp_path / "data.npz"
    path.write_text("not a zip", encoding="utf-8")
    (problem,) = problems_of(path)
    assert problem.startswith(
        f"data.path: expected a .npz file (numpy.savez) of numeric arrays that "
        f"loads; received {path}"
    )


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"x_train": nan_pixels()}, "x_train holds 3 NaN values"),
        ({"class_names": np.array(["cat", "dog", "cat"])}, "'cat' 2 times"),
        ({"class_names": np.array(["cat", "a\tb", "owl"])}, "without control"),
    ],
)
def test_run_refuses_the_data_before_the_run_folder(
    tmp_path, tiny_teacher_path, run_refused, changes, words
):
    path = write_npz(tmp_path / "data.npz", **changes)
    output = run_refused(
        {
            "data": {"source": "npz", "path": str(path)},
            "teacher": {"path": tiny_teacher_path},
            "scratch": {"epochs": 1},
            "distill": {"epochs": 1},
        }
    )
    assert words in output and "data.path:" in output
    assert not (tmp_path / "runs").exists()
