# ruff: noqa: E501  (tables of hostile inputs)
"""The command line and the caches under hostile input: bad YAML
configs and `--set` values, bad image folders and `.npz` files, damaged run
folders, bad models, labels and LiteRT files, and cache manifests that point
outside their folder. Every case fails before any model trains, with exit code
2 (bad config, data or run folder) or 1 (a failure while running), words that
name the key path or the file, no traceback, nothing written outside the
test's folder and nothing half-written left behind."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import yaml
from cli_helpers import assert_refused, invoke

from kdkeras import caches
from kdkeras.config import validate_config
from kdkeras.pipeline.run_folder import RunFolder


def as_params(rows):
    """`pytest.param`s of rows `(id, *values)`, or of `pytest.param(id,
    *values, marks=...)`."""
    params = []
    for row in rows:
        marks = ()
        if isinstance(row, type(pytest.param())):
            row, marks = row.values, row.marks
        params.append(pytest.param(*row[1:], id=row[0], marks=marks))
    return params


def files_under(directory):
    """Every file and folder under `directory`, relative, as a set."""
    found = set()
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(root, name), directory))
    return found


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Runs the test in `tmp_path/cwd` (so a relative `runs/` would land in
    the test's folder) and checks afterwards that nothing was written there,
    that no `.partial-*` file is left anywhere under `tmp_path`, and that the
    repository's folder got no new entry."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    repository = os.getcwd()
    before = set(os.listdir(repository))
    monkeypatch.chdir(cwd)
    yield tmp_path
    assert os.listdir(cwd) == [], os.listdir(cwd)
    assert set(os.listdir(repository)) <= before
    leftovers = [p for p in files_under(tmp_path) if ".partial" in p]
    assert leftovers == []


# ---------------------------------------------------------------------------
# `kdkeras run CONFIG`: the YAML file itself

MNIST = "data:\n  source: mnist\n"


def deep(levels):
    return MNIST + "run:\n  name: " + "[" * levels + "]" * levels + "\n"


def bomb():
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return MNIST + "\n".join(lines) + "\n"


def many_values(count):
    return (
        MNIST
        + "teacher:\n  paths:\n"
        + "".join(f"    - m{i}.keras\n" for i in range(count))
    )


YAML_CASES = [
    ("syntax-unclosed-list", MNIST + "student:\n  filters: [4, 8\n", ["line"]),
    ("syntax-bad-indent", "data:\n  source: mnist\n   path: x\n", ["line"]),
    ("tab-indent", "data:\n\tsource: mnist\n", ["line"]),
    ("unknown-section", MNIST + "distil:\n  epochs: 1\n", ["distil"]),
    ("unknown-key", MNIST + "distill:\n  alpah: 0.5\n", ["distill.alpah"]),
    ("unknown-data-key", MNIST + "  pth: x\n", ["data.pth"]),
    ("epochs-string", MNIST + "scratch:\n  epochs: three\n", ["scratch.epochs"]),
    ("epochs-float", MNIST + "scratch:\n  epochs: 2.5\n", ["scratch.epochs"]),
    ("epochs-negative", MNIST + "scratch:\n  epochs: -1\n", ["scratch.epochs"]),
    ("batch-size-zero", MNIST + "distill:\n  batch_size: 0\n", ["distill.batch_size"]),
    (
        "batch-size-huge",
        MNIST + "distill:\n  batch_size: 100000000000000000000000000000\n",
        ["distill.batch_size"],
    ),
    ("filters-not-list", MNIST + "student:\n  filters: 4\n", ["student.filters"]),
    ("section-is-list", MNIST + "scratch: [1, 2]\n", ["scratch"]),
    ("section-is-string", MNIST + "distill: fast\n", ["distill"]),
    (
        "lr-negative",
        MNIST + "scratch:\n  learning_rate: -0.1\n",
        ["scratch.learning_rate"],
    ),
    (
        "lr-inf",
        MNIST + "scratch:\n  learning_rate: .inf\n",
        ["scratch.learning_rate", "inf"],
    ),
    (
        "lr-nan",
        MNIST + "distill:\n  learning_rate: .nan\n",
        ["distill.learning_rate", "nan"],
    ),
    (
        "lr-string-inf",
        MNIST + "distill:\n  learning_rate: 'inf'\n",
        ["distill.learning_rate"],
    ),
    ("width-inf", MNIST + "student:\n  width: .inf\n", ["student.width", "finite"]),
    (
        "width-huge",
        MNIST + "student:\n  width: 1e308\n",
        ["student.width"],
    ),
    ("alpha-over-1", MNIST + "distill:\n  alpha: 1.5\n", ["distill.alpha"]),
    (
        "temperature-zero",
        MNIST + "distill:\n  temperature: 0\n",
        ["distill.temperature"],
    ),
    (
        "temperature-minus-inf",
        MNIST + "distill:\n  temperature: -.inf\n",
        ["distill.temperature"],
    ),
    (
        "seed-negative",
        MNIST + "run:\n  seed: -1\n",
        ["run.seed"],
    ),
    (
        "seed-huge",
        MNIST + "run:\n  seed: 1" + "0" * 40 + "\n",
        ["run.seed"],
    ),
    ("source-unknown", "data:\n  source: imagenet22k\n", ["data.source"]),
    (
        "duplicate-section",
        MNIST + "scratch:\n  epochs: 2\nscratch:\n  epochs: 3\n",
        ["scratch: written twice"],
    ),
    (
        "duplicate-nested",
        MNIST + "scratch:\n  epochs: 2\n  epochs: 3\n",
        ["scratch.epochs: written twice"],
    ),
    (
        "duplicate-flow",
        MNIST + "distill: {epochs: 2, epochs: 3}\n",
        ["distill.epochs: written twice"],
    ),
    (
        "anchor-alias",
        MNIST + "scratch: &s {epochs: 2}\ndistill: *s\n",
        ["anchors or aliases"],
    ),
    (
        "merge-key",
        MNIST + "scratch: &s {epochs: 2}\ndistill:\n  <<: *s\n",
        ["anchors or aliases"],
    ),
    ("alias-bomb", bomb(), ["anchors or aliases"]),
    ("nested-100000-deep", deep(100_000), ["nested at most"]),
    ("nested-40-deep", deep(40), ["nested at most"]),
    ("too-many-values", many_values(10_001), ["expected at most 10,000 values"]),
    (
        "python-tag",
        MNIST + "run:\n  name: !!python/object/apply:os.system [ls]\n",
        ["python/object"],
    ),
    ("top-level-list", "- data\n- run\n", ["mapping"]),
    ("top-level-scalar", "hello\n", ["mapping"]),
    ("empty-file", "", ["data"]),
    (
        "splits-sum-over-1",
        "data: {source: npz, path: a.npz, validation_split: 0.5, test_split: 0.6}\n",
        ["data.validation_split + data.test_split", "1.1"],
    ),
    (
        "splits-sum-1",
        "data: {source: npz, path: a.npz, validation_split: 0.5, test_split: 0.5}\n",
        ["data.validation_split + data.test_split"],
    ),
    (
        "split-1",
        "data: {source: npz, path: a.npz, validation_split: 1.0}\n",
        ["data.validation_split"],
    ),
    (
        "split-negative",
        "data: {source: npz, path: a.npz, test_split: -0.1}\n",
        ["data.test_split"],
    ),
    (
        "split-nan",
        "data: {source: npz, path: a.npz, test_split: .nan}\n",
        ["data.test_split"],
    ),
    (
        "npz-path-missing",
        "data: {source: npz, path: missing.npz}\n",
        ["data.path", "missing.npz"],
    ),
    (
        "folder-path-missing",
        "data: {source: image_folder, path: no_such_photos, image_size: [8, 8]}\n",
        ["data.path", "no_such_photos"],
    ),
    (
        "teacher-path-missing",
        MNIST + "teacher:\n  path: no_teacher.keras\n",
        ["teacher.path", "no_teacher.keras"],
    ),
    (
        "image-size-negative",
        "data: {source: image_folder, path: {images}, image_size: [-8, 8]}\n",
        ["data.image_size"],
    ),
    (
        "image-size-huge",
        "data: {source: image_folder, path: {images}, image_size: [100000000, 100000000]}\n",
        ["data.image_size"],
    ),
]


@pytest.mark.parametrize(
    "text, words",
    as_params(YAML_CASES),
)
def test_run_refuses_a_bad_config_file(sandbox, image_folder, text, words):
    (sandbox / "a.npz").touch()
    config = sandbox / "bad.yaml"
    config.write_text(text.replace("{images}", str(image_folder)), encoding="utf-8")
    result = invoke("run", config, "--output", sandbox / "runs")
    assert_refused(result, 2, *words)
    assert not (sandbox / "runs").exists()


BYTES_CASES = [
    (
        "latin-1",
        MNIST.encode() + "run:\n  name: café\n".encode("latin-1"),
        ["UTF-8", "0xe9"],
    ),
    ("utf-16", MNIST.encode("utf-16"), ["UTF-8"]),
    ("random-bytes", np.random.default_rng(0).bytes(300), ["UTF-8"]),
    (
        "nul-bytes",
        MNIST.encode() + b"run:\n  name: a\x00b\n",
        ["not valid YAML", "#x0000"],
    ),
    ("over-size-limit", MNIST.encode() + b"#" * 1_000_001 + b"\n", ["1,000,000 bytes"]),
]


@pytest.mark.parametrize(
    "content, words",
    as_params(BYTES_CASES),
)
def test_run_refuses_a_config_of_bad_bytes(sandbox, content, words):
    config = sandbox / "bad.yaml"
    config.write_bytes(content)
    result = invoke("run", config, "--output", sandbox / "runs")
    assert_refused(result, 2, str(config), *words)
    assert not (sandbox / "runs").exists()


def test_run_refuses_a_config_that_is_a_folder_or_missing(sandbox):
    assert_refused(invoke("run", sandbox / "missing.yaml"), 2, "missing.yaml")
    (sandbox / "folder.yaml").mkdir()
    assert_refused(invoke("run", sandbox / "folder.yaml"), 2, "folder.yaml")


# ---------------------------------------------------------------------------
# `kdkeras run CONFIG --set KEY=VALUE`

SET_CASES = [
    ("no-equals", "distill.alpha", ["distill.alpha"]),
    ("empty-key", "=3", ["--set"]),
    ("unknown-key", "distill.alpah=0.5", ["distill.alpah"]),
    ("unknown-section", "nosuch.key=1", ["nosuch"]),
    ("out-of-range", "distill.alpha=2", ["distill.alpha"]),
    ("wrong-type", "scratch.epochs=abc", ["scratch.epochs"]),
    ("inf", "scratch.learning_rate=.inf", ["scratch.learning_rate", "inf"]),
    ("nan", "student.width=.nan", ["student.width"]),
    ("yaml-syntax", "student.filters=[4, 8", ["student.filters"]),
    ("alias", "distill.alpha=&a [*a]", ["anchors or aliases"]),
    ("duplicate-key", "distill.alpha={value: 0.1, value: 0.2}", ["written twice"]),
    ("splits-sum", "data.test_split=0.95", ["data.validation_split + data.test_split"]),
    ("into-a-number", "scratch.epochs.x=1", ["scratch.epochs"]),
    ("python-tag", "run.name=!!python/object/apply:os.system [ls]", ["run.name"]),
]


@pytest.mark.parametrize(
    "override, words",
    as_params(SET_CASES),
)
def test_run_refuses_a_bad_set_override(sandbox, override, words):
    (sandbox / "a.npz").touch()
    config = sandbox / "good.yaml"
    config.write_text(
        "data: {source: npz, path: a.npz, validation_split: 0.1, test_split: 0.1}\n",
        encoding="utf-8",
    )
    result = invoke("run", config, "--set", override, "--output", sandbox / "runs")
    assert_refused(result, 2, *words)
    assert not (sandbox / "runs").exists()


@pytest.mark.parametrize(
    "name",
    [
        "../../escaped",
        "/tmp/absolute-run-name",
        "a\nb",
        "",
    ],
    ids=["dot-dot", "absolute", "newline", "empty"],
)
def test_run_refuses_a_run_name_that_is_a_path(sandbox, name):
    (sandbox / "a.npz").touch()
    config = sandbox / "good.yaml"
    config.write_text(
        yaml.safe_dump(
            {"run": {"name": name}, "data": {"source": "npz", "path": "a.npz"}}
        ),
        encoding="utf-8",
    )
    result = invoke("run", config, "--output", sandbox / "out" / "runs")
    assert_refused(result, 2, "run.name")
    assert not (sandbox / "out").exists()
    assert not os.path.exists("/tmp/absolute-run-name")


def test_run_refuses_an_output_that_is_a_file(
    sandbox, image_folder, tiny_teacher_path, tiny_run_sections
):
    output = sandbox / "runs"
    output.write_text("a file", encoding="utf-8")
    config = sandbox / "good.yaml"
    config.write_text(
        yaml.safe_dump(tiny_run(tiny_run_sections, image_folder, tiny_teacher_path))
    )
    result = invoke("run", config, "--output", output)
    assert_refused(result, 2, str(output))
    assert output.read_text(encoding="utf-8") == "a file"


# ---------------------------------------------------------------------------
# `kdkeras run` on bad data: image folders and .npz files


def tiny_run(sections, data_path, teacher_path, **data):
    """A tiny run config (`tiny_run_sections`) with no export, `data` added."""
    return sections(data_path, teacher_path, data=data, export={"enabled": False})


def png_bytes(image_folder):
    return (image_folder / "bag" / "000.png").read_bytes()


def damage(kind):
    """`damage(folder)` for each kind of bad image folder; returns the words
    the refusal must hold (relative to the folder)."""

    def empty_class(folder):
        (folder / "empty").mkdir()
        return ["empty"]

    def all_classes_empty(folder):
        for name in os.listdir(folder):
            shutil.rmtree(folder / name)
            (folder / name).mkdir()
        return ["bag"]

    def no_class_folders(folder):
        for name in os.listdir(folder):
            shutil.rmtree(folder / name)
        return ["data.path"]

    def one_class(folder):
        shutil.rmtree(folder / "bag")
        shutil.rmtree(folder / "sneaker")
        return ["data.path"]

    def corrupt(folder):
        (folder / "bag" / "random.jpg").write_bytes(np.random.default_rng(0).bytes(400))
        return ["random.jpg"]

    def zero_bytes(folder):
        (folder / "sneaker" / "empty.png").write_bytes(b"")
        return ["empty.png", "empty file"]

    def truncated(folder):
        data = (folder / "bag" / "000.png").read_bytes()
        (folder / "trouser" / "cut.png").write_bytes(data[: len(data) // 2])
        return ["cut.png"]

    def png_header_only(folder):
        (folder / "bag" / "header.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        return ["header.png"]

    def text_as_png(folder):
        (folder / "bag" / "notes.png").write_text("not an image", "utf-8")
        return ["notes.png"]

    def renamed(new_name, words):
        def rename(folder):
            os.rename(folder / "trouser", folder / new_name)
            return words

        return rename

    def one_image_class(folder):
        for name in sorted(os.listdir(folder / "trouser"))[1:]:
            os.remove(folder / "trouser" / name)
        return ["trouser"]

    kinds = {
        "empty-class": empty_class,
        "all-classes-empty": all_classes_empty,
        "no-class-folders": no_class_folders,
        "one-class": one_class,
        "corrupt-image": corrupt,
        "zero-byte-image": zero_bytes,
        "truncated-image": truncated,
        "png-header-only": png_header_only,
        "text-named-png": text_as_png,
        "class-newline": renamed("a\nb", ["'a\\nb'", "control characters"]),
        "class-tab": renamed("a\tb", ["'a\\tb'", "control characters"]),
        "class-backslash": renamed("a\\b", ["backslash"]),
        "class-leading-space": renamed(" cat", ["' cat'", "spaces"]),
        "class-trailing-space": renamed("cat ", ["'cat '", "spaces"]),
        "class-carriage-return": renamed("a\rb", ["control characters"]),
        "class-line-separator": renamed("a\u2028b", ["'a\\u2028b'"]),
        "class-too-long": renamed("c" * 201, ["200"]),
        "class-one-image": one_image_class,
    }
    return kinds[kind]


IMAGE_FOLDER_CASES = [
    "empty-class",
    "all-classes-empty",
    "no-class-folders",
    "one-class",
    "corrupt-image",
    "zero-byte-image",
    "truncated-image",
    "png-header-only",
    "text-named-png",
    "class-newline",
    "class-tab",
    "class-backslash",
    "class-leading-space",
    "class-trailing-space",
    "class-carriage-return",
    "class-line-separator",
    "class-too-long",
    "class-one-image",
]


@pytest.mark.parametrize("kind", IMAGE_FOLDER_CASES)
def test_run_refuses_a_bad_image_folder(
    sandbox, image_folder, tiny_teacher_path, tiny_run_sections, kind
):
    folder = sandbox / "photos"
    shutil.copytree(image_folder, folder)
    words = damage(kind)(folder)
    config = sandbox / "run.yaml"
    config.write_text(
        yaml.safe_dump(tiny_run(tiny_run_sections, folder, tiny_teacher_path)), "utf-8"
    )
    result = invoke("run", config, "--output", sandbox / "runs")
    assert_refused(result, 2, "data.path", *words)
    assert not (sandbox / "runs").exists()


def test_run_refuses_a_test_folder_of_other_classes(
    sandbox, image_folder, tiny_teacher_path, tiny_run_sections
):
    test_folder = sandbox / "test"
    shutil.copytree(image_folder, test_folder)
    os.rename(test_folder / "bag", test_folder / "hat")
    config = sandbox / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            tiny_run(
                tiny_run_sections,
                image_folder,
                tiny_teacher_path,
                test_path=str(test_folder),
            )
        ),
        "utf-8",
    )
    result = invoke("run", config, "--output", sandbox / "runs")
    assert_refused(result, 2, "data.test_path", "hat")
    assert not (sandbox / "runs").exists()


def write_npz(path, **changes):
    """A 3-class `.npz` of 30 28×28 training and 9 test images, with
    `changes` (`None` leaves the array out)."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.random((30, 28, 28, 1), dtype="float32"),
        "y_train": np.arange(30) % 3,
        "x_test": rng.random((9, 28, 28, 1), dtype="float32"),
        "y_test": np.arange(9) % 3,
        "class_names": np.array(["bag", "sneaker", "trouser"]),
    }
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def with_nan():
    x = np.random.default_rng(1).random((30, 28, 28, 1), dtype="float32")
    x[3, 0, 0] = np.nan
    return x


def with_inf():
    x = np.random.default_rng(1).random((9, 28, 28, 1), dtype="float32")
    x[2, 1, 1] = -np.inf
    return x


NPZ_CASES = [
    ("nan-pixels", {"x_train": with_nan()}, ["x_train holds 1 NaN"]),
    ("inf-test-pixels", {"x_test": with_inf()}, ["x_test holds", "infinite"]),
    ("short-labels", {"y_train": np.arange(29) % 3}, ["y_train with 29 labels"]),
    (
        "label-out-of-range",
        {"y_test": np.array([0, 1, 2, 0, 1, 2, 0, 1, 3])},
        ["y_test", "[0, 3)"],
    ),
    ("label-negative", {"y_train": np.arange(30) % 3 - 1}, ["y_train", "-1"]),
    ("label-float", {"y_train": (np.arange(30) % 3) + 0.5}, ["y_train", "integer"]),
    (
        "label-one-hot",
        {"y_train": np.eye(3, dtype="int64")[np.arange(30) % 3]},
        ["y_train", "(30, 3)"],
    ),
    (
        "repeated-class",
        {"class_names": np.array(["bag", "bag", "trouser"])},
        ["'bag' 2 times"],
    ),
    (
        "class-newline",
        {"class_names": np.array(["bag", "a\nb", "trouser"])},
        ["'a\\nb'", "control characters"],
    ),
    ("class-empty", {"class_names": np.array(["bag", "", "trouser"])}, ["non-empty"]),
    (
        "class-dot-dot",
        {"class_names": np.array(["bag", "..", "trouser"])},
        ["'..'", "path"],
    ),
    (
        "class-path",
        {"class_names": np.array(["bag", "../x", "trouser"])},
        ["'../x'", "path"],
    ),
    (
        "class-absolute",
        {"class_names": np.array(["bag", "/etc", "trouser"])},
        ["'/etc'", "path"],
    ),
    (
        "class-backslash",
        {"class_names": np.array(["bag", "a\\b", "trouser"])},
        ["backslash"],
    ),
    (
        "class-not-utf8",
        {"class_names": np.array([b"bag", b"\xff", b"trouser"])},
        ["UTF-8"],
    ),
    (
        "class-count-short",
        {"class_names": np.array(["bag", "sneaker"])},
        ["class_names"],
    ),
    (
        "class-numbers",
        {"class_names": np.array([1, 2, 3])},
        ["class_names"],
    ),
    (
        "test-shape",
        {"x_test": np.zeros((9, 6, 6, 1), "float32")},
        ["x_test", "(6, 6, 1)"],
    ),
    ("no-x-train", {"x_train": None, "y_train": None}, ["x_train"]),
    ("x-strings", {"x_train": np.array(["a"] * 30)}, ["x_train"]),
    (
        "empty-arrays",
        {
            "x_train": np.zeros((0, 28, 28, 1), "float32"),
            "y_train": np.zeros((0,), "int64"),
        },
        ["x_train"],
    ),
]


@pytest.mark.parametrize(
    "changes, words",
    as_params(NPZ_CASES),
)
def test_run_refuses_a_bad_npz(sandbox, tiny_teacher_path, changes, words):
    path = write_npz(sandbox / "data.npz", **changes)
    config = sandbox / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"source": "npz", "path": str(path)},
                "teacher": {"path": tiny_teacher_path},
                "scratch": {"epochs": 1},
                "distill": {"epochs": 1},
            }
        ),
        "utf-8",
    )
    result = invoke("run", config, "--output", sandbox / "runs")
    assert_refused(result, 2, "data.path", *words)
    assert not (sandbox / "runs").exists()


@pytest.mark.parametrize(
    "content",
    [
        b"not a zip",
        b"",
        b"PK\x03\x04" + b"\x00" * 40,
        "pickle",
    ],
    ids=["text", "empty", "zip-header-only", "object-array"],
)
def test_run_refuses_a_file_that_is_no_npz(sandbox, tiny_teacher_path, content):
    path = sandbox / "data.npz"
    if content == "pickle":
        np.savez(
            path,
            x_train=np.array([{"a": 1}] * 30, dtype=object),
            y_train=np.arange(30) % 3,
        )
    else:
        path.write_bytes(content)
    config = sandbox / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"source": "npz", "path": str(path)},
                "teacher": {"path": tiny_teacher_path},
            }
        ),
        "utf-8",
    )
    result = invoke("run", config, "--output", sandbox / "runs")
    assert_refused(result, 2, "data.path", str(path))
    assert not (sandbox / "runs").exists()


# ---------------------------------------------------------------------------
# `kdkeras run --resume RUN_DIR`


def run_folder(sandbox, **sections):
    config = validate_config(
        {
            "run": {"name": "resumed", "output_dir": str(sandbox / "runs")},
            "data": {"source": "mnist"},
            **sections,
        }
    )
    return RunFolder.create(config)


STATE_CASES = [
    ("truncated", b'{"kdkeras_version": "0.1.0", "stages": {"tea', ["not JSON"]),
    ("empty", b"", ["state.json"]),
    ("not-utf8", b"\xff\xfe{}", ["not UTF-8"]),
    ("a-list", b"[1, 2]", ["received list"]),
    ("a-number", b"3", ["state.json"]),
    ("null", b"null", ["state.json"]),
    ("stages-list", b'{"kdkeras_version": "0.1.0", "stages": []}', ["stages"]),
    (
        "finished-int",
        b'{"kdkeras_version": "0.1.0", "stages": {"teacher": {"finished": 3, "artifacts": {}}}}',
        ["stages.teacher.finished"],
    ),
    (
        "unknown-kind",
        b'{"kdkeras_version": "0.1.0", "stages": {}, "findings": [{"stage": "x", "kind": "oops", "message": "m"}]}',
        ["findings[0].kind"],
    ),
    (
        "artifact-outside",
        b'{"kdkeras_version": "0.1.0", "stages": {"teacher": {"finished": "2024-01-01T00:00:00", "artifacts": {"model": "../../../etc/passwd"}}}}',
        ["stages.teacher.artifacts.model", "'../../../etc/passwd'", "outside the run"],
    ),
    (
        "artifact-absolute",
        b'{"kdkeras_version": "0.1.0", "stages": {"teacher": {"finished": "2024-01-01T00:00:00", "artifacts": {"model": "/etc/passwd"}}}}',
        ["stages.teacher.artifacts.model", "'/etc/passwd'"],
    ),
    (
        "artifact-run-dot-dot",
        b'{"kdkeras_version": "0.1.0", "stages": {"export": {"finished": "2024-01-01T00:00:00", "artifacts": {"tflite": {"int8": "run:package/../../x.tflite"}}}}}',
        ["stages.export.artifacts.tflite.int8", "'run:package/../../x.tflite'"],
    ),
    ("huge", b'{"pad": "' + b"x" * 11_000_000 + b'"}', ["state.json"]),
]


@pytest.mark.parametrize(
    "content, words",
    as_params(STATE_CASES),
)
def test_resume_refuses_a_damaged_state_json(sandbox, content, words):
    folder = run_folder(sandbox)
    state = folder.file("state.json")
    with open(state, "wb") as file:
        file.write(content)
    before = files_under(folder.path)
    result = invoke("run", "--resume", folder.path)
    assert_refused(result, 2, state, *words)
    assert files_under(folder.path) == before


def test_resume_accepts_the_ready_model_its_config_names(sandbox, tiny_teacher_path):
    """The one artifact outside the run folder kdkeras records: the ready
    `teacher.path` (absolute, as the config holds it) of a finished stage."""
    folder = run_folder(sandbox, teacher={"path": tiny_teacher_path})
    teacher_path = folder.load_config().teacher.path
    folder.mark_finished("teacher", model=teacher_path)
    folder.mark_finished("scratch", model=folder.model_path("student_scratch"))
    opened = RunFolder.open(folder.path)
    assert opened.artifacts("teacher")["model"] == teacher_path
    assert opened.artifacts("scratch")["model"] == folder.model_path("student_scratch")
    # A folder of an older kdkeras keeps no config in state.json: the
    # config.yaml names the ready teacher.
    state = folder.state()
    del state["config"]
    folder._write_state(state)
    assert RunFolder.open(folder.path).finished_stages() == ["teacher", "scratch"]


def test_resume_refuses_what_is_not_a_run_folder(sandbox):
    empty = sandbox / "empty"
    empty.mkdir()
    assert_refused(invoke("run", "--resume", empty), 2, "state.json")
    a_file = sandbox / "file.txt"
    a_file.write_text("x", "utf-8")
    assert_refused(invoke("run", "--resume", a_file), 2, "file.txt")
    assert_refused(invoke("run", "--resume", sandbox / "missing"), 2, "missing")
    assert files_under(empty) == set()


def test_resume_refuses_a_run_folder_without_its_config(sandbox):
    folder = run_folder(sandbox)
    os.remove(folder.file("config.yaml"))
    before = files_under(folder.path)
    assert_refused(invoke("run", "--resume", folder.path), 2, "config.yaml")
    assert files_under(folder.path) == before


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda data: data["student"].update(width=0.5), ["student.width: 1.0 → 0.5"]),
        (lambda data: data["distill"].update(epochs=5), ["distill.epochs: 3 → 5"]),
    ],
    ids=["width", "epochs"],
)
def test_resume_refuses_an_edited_config(sandbox, edit, words):
    folder = run_folder(sandbox, student={"width": 1.0}, distill={"epochs": 3})
    config_path = folder.file("config.yaml")
    data = yaml.safe_load(open(config_path, encoding="utf-8"))
    edit(data)
    with open(config_path, "w", encoding="utf-8") as file:
        yaml.safe_dump(data, file)
    before = files_under(folder.path)
    state = open(folder.file("state.json"), encoding="utf-8").read()
    result = invoke("run", "--resume", folder.path)
    assert_refused(result, 2, config_path, "--allow-changed-config", *words)
    assert files_under(folder.path) == before
    assert open(folder.file("state.json"), encoding="utf-8").read() == state


def test_resume_refuses_a_damaged_config_yaml(sandbox):
    folder = run_folder(sandbox)
    config_path = folder.file("config.yaml")
    with open(config_path, "a", encoding="utf-8") as file:
        file.write("scratch: [unclosed\n")
    before = files_under(folder.path)
    assert_refused(invoke("run", "--resume", folder.path), 2, config_path)
    assert files_under(folder.path) == before


# ---------------------------------------------------------------------------
# `kdkeras init --data DIR`


INIT_CASES = [
    ("missing-folder", None, ["--data"]),
    ("empty-class", "empty-class", ["empty"]),
    ("all-corrupt", "all-corrupt", ["--data"]),
    ("class-newline", "class-newline", ["'a\\nb'", "control characters"]),
    ("class-backslash", "class-backslash", ["backslash"]),
    ("no-class-folders", "no-class-folders", ["--data"]),
]


@pytest.mark.parametrize(
    "kind, words",
    as_params(INIT_CASES),
)
def test_init_refuses_a_bad_data_folder(sandbox, image_folder, kind, words):
    folder = sandbox / "photos"
    if kind == "all-corrupt":
        for name in ("cat", "dog"):
            (folder / name).mkdir(parents=True)
            (folder / name / "x.png").write_bytes(b"\x89PNG broken")
    elif kind is not None:
        shutil.copytree(image_folder, folder)
        damage(kind)(folder)
    output = sandbox / "kdkeras.yaml"
    result = invoke("init", "--data", folder, "-o", output)
    assert_refused(result, 2, *words)
    assert not output.exists()


def test_init_refuses_to_replace_a_config(sandbox, image_folder):
    output = sandbox / "kdkeras.yaml"
    output.write_text("mine\n", "utf-8")
    result = invoke("init", "--data", image_folder, "-o", output)
    assert_refused(result, 2, "--force")
    assert output.read_text("utf-8") == "mine\n"


# ---------------------------------------------------------------------------
# `kdkeras export` and `kdkeras report`


@pytest.fixture
def labels(sandbox):
    def write(*names):
        path = sandbox / "labels.txt"
        path.write_text("".join(f"{name}\n" for name in names), "utf-8")
        return path

    return write


def text_model(sandbox):
    path = sandbox / "model.keras"
    path.write_text("not a model\n", "utf-8")
    return path


EXPORT_CASES = [
    (
        "text-model-keras",
        "text",
        ("a", "b", "c"),
        ["MODEL", "model.keras", "not a .keras (zip) archive"],
    ),
    ("missing-model", "missing", ("a", "b", "c"), ["nope.keras"]),
    ("folder-as-model", "folder", ("a", "b", "c"), ["folder.keras"]),
    ("labels-too-few", "tiny", ("a", "b"), ["labels", "(3)", "Received 2 labels"]),
    ("labels-too-many", "tiny", ("a", "b", "c", "d"), ["labels", "(3)", "Received 4"]),
    ("labels-repeated", "tiny", ("a", "b", "a"), ["'a' 2 times"]),
    ("labels-dot-dot", "tiny", ("a", "..", "c"), ["'..'"]),
    ("labels-empty-line", "tiny", ("a", "", "c"), ["labels", "Received 2 labels"]),
    ("labels-backslash", "tiny", ("a", "b\\c", "d"), ["backslash"]),
]


@pytest.mark.parametrize(
    "model, names, words",
    as_params(EXPORT_CASES),
)
def test_export_refuses_bad_models_and_labels(
    sandbox, tiny_teacher_path, labels, model, names, words
):
    if model == "text":
        model = text_model(sandbox)
    elif model == "missing":
        model = sandbox / "nope.keras"
    elif model == "folder":
        model = sandbox / "folder.keras"
        model.mkdir()
    else:
        model = tiny_teacher_path
    package = sandbox / "package"
    result = invoke(
        "export",
        model,
        "--output",
        package,
        "--labels",
        labels(*names),
        "-q",
        "float32",
    )
    assert_refused(result, 2, *words)
    assert not package.exists()


def garbage_tflite(sandbox):
    path = sandbox / "model.tflite"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    return path


REPORT_CASES = [
    ("text-model-keras", "text", None, ["model.keras"]),
    ("garbage-tflite", "tflite", None, ["model.tflite", "expected a LiteRT model"]),
    ("missing-model", "missing", None, ["nope.keras"]),
    ("labels-wrong-count", "tiny", ("bag", "sneaker"), ["class_names"]),
    (
        "labels-wrong-order",
        "tiny",
        ("trouser", "sneaker", "bag"),
        ["--labels", "in its order"],
    ),
    ("labels-repeated", "tiny", ("bag", "bag", "trouser"), ["'bag' 2 times"]),
    ("labels-newline-escape", "tiny", ("bag", "a\\nb", "trouser"), ["backslash"]),
]


@pytest.mark.parametrize(
    "model, names, words",
    as_params(REPORT_CASES),
)
def test_report_refuses_bad_models_and_labels(
    sandbox, tiny_teacher_path, image_folder, labels, model, names, words
):
    model = {
        "text": lambda: text_model(sandbox),
        "tflite": lambda: garbage_tflite(sandbox),
        "missing": lambda: sandbox / "nope.keras",
        "tiny": lambda: tiny_teacher_path,
    }[model]()
    output = sandbox / "report"
    extra = ["--labels", labels(*names)] if names else []
    result = invoke(
        "report",
        model,
        "--data",
        image_folder,
        "--output",
        output,
        "--latency-runs",
        0,
        *extra,
    )
    assert_refused(result, 2, *words)
    assert not output.exists()


def test_report_refuses_missing_data(sandbox, tiny_teacher_path):
    output = sandbox / "report"
    result = invoke(
        "report", tiny_teacher_path, "--data", sandbox / "none", "--output", output
    )
    assert_refused(result, 2, "none")
    assert not output.exists()


def test_report_refuses_an_npz_with_infinite_pixels(sandbox, tiny_teacher_path):
    output = sandbox / "report"
    path = write_npz(sandbox / "test.npz", x_test=with_inf())
    result = invoke(
        "report",
        tiny_teacher_path,
        "--data",
        path,
        "--output",
        output,
        "--latency-runs",
        0,
    )
    assert_refused(result, 2, "--data", str(path), "x_test", "1 infinite values")
    assert not output.exists()


# ---------------------------------------------------------------------------
# The caches (Python API)


@pytest.fixture(scope="module")
def cache_teacher():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )


@pytest.fixture(scope="module")
def cache_x():
    return np.random.default_rng(0).normal(size=(40, 8, 8, 1)).astype("float32")


def sharded_cache(teacher, x, directory, change=None):
    caches.write_sharded_logits(teacher, x, directory, batch_size=16)
    if change is not None:
        path = directory / "manifest.json"
        manifest = json.loads(path.read_text())
        change(manifest)
        path.write_text(json.dumps(manifest))
    return directory


def rename_shard(name):
    def change(manifest):
        manifest["shards"][0]["file"] = name

    return change


def drop(key):
    def change(manifest):
        del manifest[key]

    return change


MANIFEST_CASES = [
    ("dot-dot", rename_shard("../outside.tfrecord"), ValueError, "plain file name"),
    ("absolute", rename_shard("/etc/passwd"), ValueError, "plain file name"),
    ("sub-folder", rename_shard("sub/shard.tfrecord"), ValueError, "plain file name"),
    ("empty-name", rename_shard(""), ValueError, "plain file name"),
    ("no-shards", drop("shards"), ValueError, "`shards`"),
    ("no-num-classes", drop("num_classes"), ValueError, "`num_classes`"),
    ("shards-not-list", lambda m: m.update(shards="x"), ValueError, "`shards`"),
    (
        "num-classes-string",
        lambda m: m.update(num_classes="4"),
        ValueError,
        "`num_classes`",
    ),
]


@pytest.mark.parametrize("opener", ["open_cache", "sharded_dataset"])
@pytest.mark.parametrize(
    "change, error, words",
    as_params(MANIFEST_CASES),
)
def test_a_hostile_manifest_is_refused(
    sandbox, cache_teacher, cache_x, opener, change, error, words
):
    (sandbox / "outside.tfrecord").write_bytes(b"x" * 10)
    directory = sharded_cache(cache_teacher, cache_x, sandbox / "cache", change)
    before = files_under(sandbox)
    with pytest.raises(error, match=words):
        if opener == "open_cache":
            caches.open_cache(directory, cache_x, cache_teacher)
        else:
            caches.sharded_dataset(
                directory, cache_x, np.zeros(40, "int32"), cache_teacher
            )
    assert files_under(sandbox) == before


def test_a_shard_of_another_cache_is_refused(sandbox, cache_teacher, cache_x):
    sharded_cache(cache_teacher, cache_x, sandbox / "a")
    keras.utils.set_random_seed(1)
    other = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)]
    )
    sharded_cache(other, cache_x, sandbox / "b")
    shard = "shard-00000.tfrecord"
    (sandbox / "a" / shard).write_bytes((sandbox / "b" / shard).read_bytes())
    with pytest.raises(ValueError, match="damaged or from another cache"):
        caches.open_cache(sandbox / "a", cache_x, cache_teacher)


def test_a_manifest_that_is_no_json_is_refused(sandbox, cache_teacher, cache_x):
    directory = sharded_cache(cache_teacher, cache_x, sandbox / "c")
    (directory / "manifest.json").write_text('{"shards": [', "utf-8")
    with pytest.raises(ValueError, match="manifest.json"):
        caches.open_cache(directory, cache_x, cache_teacher)


@pytest.mark.parametrize(
    "damage_file",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: p.write_bytes(b""),
        lambda p: p.write_text("not a cache", "utf-8"),
        lambda p: np.savez(p, logits=np.zeros((40, 4))),
    ],
    ids=["truncated", "zero-bytes", "text", "foreign-npz"],
)
def test_a_damaged_npz_cache_is_refused(sandbox, cache_teacher, cache_x, damage_file):
    path = sandbox / "teacher.npz"
    caches.load_or_compute(path, cache_teacher, cache_x)
    damage_file(path)
    with pytest.raises(ValueError, match="teacher.npz|not a kdkeras"):
        caches.open_cache(path, cache_x, cache_teacher)
