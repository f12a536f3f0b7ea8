"""Tests of benchmarks/accuracy_methods.py: the gap-closed table, and one
method of each kind trained for a step on a handful of generated images."""

import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from kdkeras import augmentation, caches
from kdkeras.caches import augmented_file

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def methods(load_script):
    return load_script(BENCHMARKS / "accuracy_methods.py")


def test_gap_closed_against_the_baseline_with_the_same_augmentation(methods):
    table = methods.summarize(
        {
            "scratch": [0.88, 0.90],  # mean 0.89
            "kd": [0.91, 0.91],  # (0.91 - 0.89) / (0.93 - 0.89) = 50%
            "scratch_views": [0.85, 0.85],
            "fm": [0.84, 0.84],  # (0.84 - 0.85) / (0.93 - 0.85) = -12.5%
        },
        teacher_accuracy=0.93,
    )
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[3:]}
    assert "+50% (vs scratch)" in rows["kd"]
    assert (
        "-12% (vs scratch_views)" in rows["fm"]
        or "-13% (vs scratch_views)" in rows["fm"]
    )
    assert "0.8900 ± 0.0141" in rows["scratch"]
    assert rows["scratch"].endswith("| — |")


@pytest.mark.slow
@pytest.mark.parametrize(
    "method",
    [
        "dkd",
        "scratch_views",
        "fm",
        "kd_ensemble",
        "kd_at",
        "kd_assistant",
        "dist",
        "rkd",
        "pkt",
        "crd",
    ],
)
def test_each_method_trains(methods, method):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (40, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, 10, 40)
    args = methods.parse_args(["--epochs", "1", "--batch-size", "16", "--mixup", "0.2"])
    plain_logits = rng.normal(size=(40, 10)).astype("float32")
    plan = augmentation.AugmentationPlan(mixup_alpha=0.2, seed=0)
    parameters = plan.draw(40, (28, 28), 1)
    cache = augmented_file.AugmentedLogitCache(
        plan, parameters, rng.normal(size=(1, 40, 10)).astype("float32")
    )
    teachers = {"plain": plain_logits, "views": cache}
    if method == "kd_ensemble":
        teachers["ensemble"] = rng.normal(size=(40, 10)).astype("float32")
    if method == "kd_assistant":
        teachers["assistant"] = rng.normal(size=(40, 10)).astype("float32")
    if method in ("kd_at", "rkd", "pkt", "crd"):
        # A small VGG teacher: its stages carry the layer names kd_at taps,
        # and its "pool" the embeddings rkd and pkt relate.
        teacher_models = sys.modules["teacher_models"]  # imported by the benchmark
        teachers["model"] = teacher_models.build_teacher_vgg(stage_filters=(4, 8, 8))
        # rkd, pkt and crd train from its stored embeddings (the default).
        teachers["features"] = caches.compute_teacher_features(
            teachers["model"], x, methods.EMBEDDING_PAIR[0]
        )
    student = methods.STUDENTS["cnn4k"]()
    before = [w.copy() for w in student.get_weights()]
    trained = methods.train_one(method, student, (x, y), teachers, args, 0)
    assert trained is student or trained.count_params() == student.count_params()
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(before, trained.get_weights(), strict=True)
    )
    assert 0.0 <= methods.accuracy(trained, (x, y)) <= 1.0


@pytest.mark.slow
def test_feature_methods_train_online_or_from_stored_embeddings(methods, tmp_path):
    """`--teacher-features online` runs the teacher; the default reads its
    embeddings, stored once in the cache folder with its fingerprint."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, (32, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, 10, 32)
    teacher_models = sys.modules["teacher_models"]
    teacher = teacher_models.build_teacher_vgg(stage_filters=(4, 8, 8))
    base = ["--epochs", "1", "--batch-size", "16", "--cache-dir", str(tmp_path)]
    args = methods.parse_args(base)
    stored = methods.cached_features(teacher, (x, y), args, "pool")
    # Beside the teacher's logits, in the plain cache.
    [path] = tmp_path.glob("plain-*.npz")
    assert sorted(caches.open_cache(path, x, teacher).teacher_features) == ["pool"]
    np.testing.assert_allclose(
        stored["pool"],
        caches.compute_teacher_features(teacher, x, "pool")["pool"],
        atol=1e-6,
    )
    # Read back for the same teacher; recomputed for another one.
    again = methods.cached_features(teacher, (x, y), args, "pool")
    np.testing.assert_array_equal(again["pool"], stored["pool"])
    other = teacher_models.build_teacher_vgg(stage_filters=(4, 8, 8))
    recomputed = methods.cached_features(other, (x, y), args, "pool")
    assert not np.allclose(recomputed["pool"], stored["pool"])
    assert path.exists()
    assert methods.method_settings("pkt", args)["teacher_features"] == "stored"
    online = methods.parse_args([*base, "--teacher-features", "online"])
    assert "teacher_features" not in methods.method_settings("pkt", online)
    # --feature-kd: KD beside the relation, its settings recorded (a row apart).
    with_kd = methods.parse_args([*base, "--feature-kd", "--alpha", "0.2"])
    assert methods.method_settings("rkd", with_kd) == dict(
        distance_weight=25.0,
        angle_weight=50.0,
        alpha=0.2,
        kd_T=2.0,
        teacher_features="stored",
    )
    assert methods.method_settings("rkd", args)["alpha"] == 1.0
    # ... and KD does enter the loss: the same seed trains other weights.
    logits = rng.normal(size=(32, 10)).astype("float32")
    trained_weights = []
    for options in (args, with_kd):
        keras.utils.set_random_seed(0)
        trained = methods.train_one(
            "rkd",
            methods.STUDENTS["cnn4k"](),
            (x, y),
            {"plain": logits, "features": stored},
            options,
            0,
        )
        trained_weights.append(trained.get_weights())
    assert any(not np.allclose(a, b) for a, b in zip(*trained_weights, strict=True))
    student = methods.STUDENTS["cnn4k"]()
    before = [w.copy() for w in student.get_weights()]
    teachers = {"plain": rng.normal(size=(32, 10)).astype("float32"), "model": teacher}
    trained = methods.train_one("pkt", student, (x, y), teachers, online, 0)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(before, trained.get_weights(), strict=True)
    )


def test_the_check_script_finds_its_sibling_modules_itself(tmp_path):
    # Run as a user runs it, from another folder: it puts tools/ and
    # benchmarks/ on the path itself.
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "keras_distillation_check.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "--alpha" in completed.stdout


def test_the_assistant_is_distilled_once_and_its_logits_cached(
    methods, tmp_path, capsys
):
    rng = np.random.default_rng(1)
    train = (
        rng.integers(0, 255, (32, 28, 28, 1)).astype("uint8"),
        rng.integers(0, 10, 32),
    )
    test = (train[0][:8], train[1][:8])
    args = methods.parse_args(
        [
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--assistant",
            "cnn4k",
            "--cache-dir",
            str(tmp_path),
        ]
    )
    teacher_logits = rng.normal(size=(32, 10)).astype("float32")

    first = methods.assistant_logits(teacher_logits, train, test, args)
    assert first.shape == (32, 10)
    assert "assistant cnn4k (" in capsys.readouterr().out
    (cached,) = tmp_path.iterdir()
    teacher = pathlib.Path(args.teacher_weights).name.removesuffix(".weights.h5")
    assert cached.name == f"assistant-cnn4k-of-{teacher}-e1-t2.0-a0.1-32.npz"

    again = methods.assistant_logits(teacher_logits, train, test, args)
    np.testing.assert_array_equal(again, first)
    assert capsys.readouterr().out == ""  # read from the cache, not retrained


class _WeightsPerEpoch(keras.callbacks.History):
    """History that also keeps the model's weights after every epoch."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.weights_per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        self.weights_per_epoch.append(self.model.get_weights())


@pytest.mark.parametrize("method", ["scratch", "kd"])
def test_select_best_keeps_the_epoch_of_best_validation_accuracy(methods, method):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(2)
    x = rng.integers(0, 255, (48, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, 10, 48)
    # Validation labels the training labels contradict: learning them can
    # only lower validation accuracy, so the best epoch is the first (ties
    # go to the first, as in Keras' EarlyStopping), never the last.
    validation = (x, (y + 1) % 10)
    args = methods.parse_args(
        ["--epochs", "5", "--batch-size", "16", "--learning-rate", "0.03"]
        + ["--select-best"]
    )
    # A teacher that agrees with the training labels.
    teachers = {"plain": 5.0 * np.eye(10, dtype="float32")[y]}
    history = _WeightsPerEpoch()
    trained = methods.train_one(
        method,
        methods.STUDENTS["cnn4k"](),
        (x, y),
        teachers,
        args,
        0,
        validation,
        history,
    )
    curve = history.history["val_accuracy"]
    assert len(curve) == 5
    best = int(np.argmax(curve))
    assert best < 4
    for restored, kept in zip(
        trained.get_weights(), history.weights_per_epoch[best], strict=True
    ):
        np.testing.assert_array_equal(restored, kept)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(
            trained.get_weights(), history.weights_per_epoch[-1], strict=True
        )
    )


def test_without_validation_fit_options_are_the_epochs_and_a_line_an_epoch(methods):
    assert sys.modules["method_training"].fit_options(5) == dict(epochs=5, verbose=2)
    history = keras.callbacks.History()
    options = sys.modules["method_training"].fit_options(
        5, ("x", "y"), history, select_best=False
    )
    assert options["callbacks"] == [history]
    assert options["validation_data"] == ("x", "y")


def test_flip_tta_teachers_cache_the_mean_of_image_and_mirror_logits(
    methods, tiny_saved_teacher, tmp_path
):
    model, path = tiny_saved_teacher
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (6, 28, 28, 1), dtype="uint8")
    train = (images, rng.integers(0, 10, 6))
    args = methods.parse_args(
        ["--teacher-flip-tta", "--teacher-weights", path, "--cache-dir", str(tmp_path)]
    )

    teacher = methods.load_teacher(path, args)
    plain_logits, _ = methods.teacher_caches(teacher, train, args, 1, False)

    mirror_mean = (
        model.predict(images, verbose=0)
        + model.predict(images[:, :, ::-1, :], verbose=0)
    ) / 2
    np.testing.assert_allclose(plain_logits, mirror_mean, atol=1e-5)
    # Named by the teacher and the flips: not the plain teacher's file.
    teacher_name = pathlib.Path(path).name.removesuffix(".weights.h5")
    assert (tmp_path / f"plain-{teacher_name}-6-flip-tta.npz").exists()
    without_tta = methods.parse_args(["--teacher-weights", path])
    np.testing.assert_allclose(
        methods.load_teacher(path, without_tta).predict(images, verbose=0),
        model.predict(images, verbose=0),
        atol=1e-5,
    )
