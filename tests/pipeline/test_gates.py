"""The run's judgement (`kdkeras.pipeline.gates`): a teacher at chance or
below the scratch student stops the run, the package holds the better
student, and a collapsed or worse student is a warning.

The models here are linear maps of one-hot inputs whose predictions are set
by hand, so every accuracy and share below is counted, not trained."""

import json
import logging
import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kdkeras.config import validate_config
from kdkeras.pipeline import gates
from kdkeras.pipeline.context import RunContext
from kdkeras.pipeline.run_data import RunData
from kdkeras.pipeline.run_folder import RunFolder

NUM_CLASSES = 4


def class_map_model(predicted_class, name):
    """A model over one-hot inputs that predicts `predicted_class[c]` for an
    example of class `c` (its only weights: a 0/1 kernel)."""
    kernel = np.zeros((NUM_CLASSES, NUM_CLASSES), "float32")
    kernel[np.arange(NUM_CLASSES), predicted_class] = 1.0
    model = keras.Sequential(
        [keras.Input((NUM_CLASSES,)), keras.layers.Dense(NUM_CLASSES, use_bias=False)],
        name=name,
    )
    model.set_weights([kernel])
    return model


def one_hot_split(counts):
    """`(x, y)`: `counts[c]` one-hot examples of each class `c`."""
    labels = np.repeat(np.arange(NUM_CLASSES), counts).astype("int32")
    return np.eye(NUM_CLASSES, dtype="float32")[labels], labels


PERFECT = [0, 1, 2, 3]
ONE_CLASS = [0, 0, 0, 0]
HALF_RIGHT = [0, 1, 0, 0]  # Right on classes 0 and 1 only.


def make_context(tmp_path, models, counts=(25, 25, 25, 25), **sections):
    settings = {
        "run": {"output_dir": str(tmp_path / "runs")},
        "data": {"source": "mnist"},
        "teacher": {"weights": "none", "head_epochs": 2},
    }
    for name, values in sections.items():
        settings[name] = {**settings.get(name, {}), **values}
    config = validate_config(settings)
    split = one_hot_split(counts)
    data = RunData(
        split, split, split, ["a", "b", "c", "d"], (NUM_CLASSES,), None, None
    )
    folder = RunFolder.create(config)
    context = RunContext(config, folder, data, logging.getLogger("test_gates"))
    context.models.update(models)
    return context


def test_scores_count_accuracy_chance_and_the_most_predicted_class():
    x, y = one_hot_split((10, 20, 30, 40))
    scores = gates.score(class_map_model(HALF_RIGHT, "m"), x, y, "m")
    # Right on classes 0 and 1: 30 of 100; class 0 predicted for 10 + 30 + 40.
    assert scores["accuracy"] == pytest.approx(0.30)
    assert scores["majority_rate"] == pytest.approx(0.40)
    assert scores["top_prediction_share"] == pytest.approx(0.80)
    assert scores["num_examples"] == 100


def test_chance_collapse_and_clearly_below_by_hand():
    # 100 examples, chance 0.25: margin max(0.01, 2 sqrt(.25 .75 / 100)) = 0.0866.
    base = {"majority_rate": 0.25, "num_examples": 100, "top_prediction_share": 0.3}
    assert gates.at_chance({**base, "accuracy": 0.33})
    assert not gates.at_chance({**base, "accuracy": 0.34})
    # Collapsed from 0.25 + 0.5 * 0.75 = 0.625 of the predictions on.
    assert gates.collapsed({**base, "top_prediction_share": 0.625})
    assert not gates.collapsed({**base, "top_prediction_share": 0.62})
    # 0.9 against 0.8: spread sqrt(.09 .91/100 + .16/100... ) hand-computed:
    # se(0.8) = 0.04, se(0.9) = 0.03, hypot = 0.05, margin 0.1.
    reference = {**base, "accuracy": 0.9}
    assert not gates.clearly_below({**base, "accuracy": 0.8}, reference)
    assert gates.clearly_below({**base, "accuracy": 0.79}, reference)


def test_a_teacher_at_chance_stops_with_the_keys_to_change(tmp_path):
    context = make_context(tmp_path, {"teacher": class_map_model(ONE_CLASS, "teacher")})
    with pytest.raises(gates.WeakTeacherError) as info:
        gates.check_teacher(context)
    message = str(info.value)
    assert "The teacher is at chance: accuracy 0.2500 on 100 validation" in message
    assert "its most predicted class takes 100%" in message
    assert "teacher.head_epochs: 0" in message
    assert "teacher.weights: none" in message
    assert "distill.allow_weak_teacher: true" in message
    assert "--resume" not in message
    [decision] = context.folder.findings("decision")
    assert decision["numbers"]["teacher_accuracy"] == 0.25
    [warning] = context.folder.findings("warning")
    assert warning["stage"] == "teacher_gate"


def test_allow_weak_teacher_turns_the_stop_into_a_warning(tmp_path):
    context = make_context(
        tmp_path,
        {"teacher": class_map_model(ONE_CLASS, "teacher")},
        distill={"allow_weak_teacher": True},
    )
    gates.check_teacher(context)
    [warning] = context.folder.findings("warning")
    assert "Going on (distill.allow_weak_teacher)" in warning["message"]


def test_a_teacher_above_chance_passes(tmp_path):
    context = make_context(tmp_path, {"teacher": class_map_model(PERFECT, "teacher")})
    gates.check_teacher(context)
    assert context.folder.findings("warning") == []


def test_a_teacher_clearly_below_the_scratch_student_stops(tmp_path):
    context = make_context(
        tmp_path,
        {
            "teacher": class_map_model(HALF_RIGHT, "teacher"),
            "student_scratch": class_map_model(PERFECT, "scratch"),
        },
    )
    with pytest.raises(gates.WeakTeacherError, match="clearly below the student"):
        gates.check_teacher_against_scratch(context)
    # Equal models pass.
    context.models["teacher"] = class_map_model(PERFECT, "teacher")
    gates.check_teacher_against_scratch(context)


def test_the_better_student_is_shipped_and_a_collapsed_one_is_warned(tmp_path):
    context = make_context(
        tmp_path,
        {
            "student_scratch": class_map_model(PERFECT, "scratch"),
            "student_distilled": class_map_model(ONE_CLASS, "distilled"),
        },
    )
    gates.choose_shipped_student(context)
    assert context.shipped_student == "student_scratch"
    assert context.final_student() is context.models["student_scratch"]
    warnings = [finding["message"] for finding in context.folder.findings("warning")]
    assert len(warnings) == 2
    assert warnings[0].startswith("student (distilled) predicts (almost) one class")
    assert "100% of its validation predictions are one class" in warnings[0]
    assert warnings[1].startswith("the distilled student is clearly below")
    [decision] = context.folder.findings("decision")
    assert decision["message"] == (
        "the device package holds the student (scratch) (the better on the "
        "validation split: distilled 0.2500, scratch 1.0000)"
    )


def test_export_model_names_the_student_whatever_the_scores(tmp_path):
    context = make_context(
        tmp_path,
        {
            "student_scratch": class_map_model(PERFECT, "scratch"),
            "student_distilled": class_map_model(HALF_RIGHT, "distilled"),
        },
        export={"model": "distilled"},
    )
    gates.choose_shipped_student(context)
    assert context.shipped_student == "student_distilled"
    assert (
        "export.model: distilled" in context.folder.findings("decision")[0]["message"]
    )


def test_a_ties_ships_the_distilled_student(tmp_path):
    context = make_context(
        tmp_path,
        {
            "student_scratch": class_map_model(PERFECT, "scratch"),
            "student_distilled": class_map_model(PERFECT, "distilled"),
        },
    )
    gates.choose_shipped_student(context)
    assert context.shipped_student == "student_distilled"
    assert context.folder.findings("warning") == []


def test_a_collapse_on_imbalanced_data_is_judged_against_the_majority(tmp_path):
    # 82 % of one class (as an imbalanced text folder): predicting it always
    # is a collapse (100 % >= 0.82 + 0.09), predicting it 88 % is not.
    context = make_context(
        tmp_path,
        {"student_scratch": class_map_model(ONE_CLASS, "scratch")},
        counts=(82, 6, 6, 6),
        distill={"enabled": False},
    )
    gates.choose_shipped_student(context)
    [warning] = context.folder.findings("warning")
    assert "whose true share is at most 82%" in warning["message"]
    context.folder.clear_findings("selection")
    context.models["student_scratch"] = class_map_model([0, 1, 2, 0], "scratch")
    gates.choose_shipped_student(context)
    assert context.folder.findings("warning") == []


def test_export_model_of_a_student_the_run_does_not_train_is_refused():
    from kdkeras.config import ConfigError

    with pytest.raises(ConfigError, match="export.model: expected 'best' or a"):
        validate_config(
            {
                "data": {"source": "mnist"},
                "scratch": {"enabled": False},
                "export": {"model": "scratch"},
            }
        )


# End to end: real runs on the 8×8 digits.


@pytest.fixture
def digits_npz_large(digits, tmp_path):
    x, y = digits
    path = tmp_path / "digits.npz"
    np.savez(
        path,
        x_train=x[:1200],
        y_train=y[:1200],
        x_test=x[1200:1500],
        y_test=y[1200:1500],
    )
    return str(path)


@pytest.fixture
def constant_teacher_path(tmp_path):
    """A 10-class CNN whose last kernel is zero: it predicts one class."""
    from kdkeras.models import build_cnn

    keras.utils.set_random_seed(0)
    teacher = build_cnn(
        input_shape=(8, 8, 1), filters=(4,), dense_units=None, rescale=False
    )
    last = teacher.layers[-1]
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    path = tmp_path / "constant_teacher.keras"
    teacher.save(path)
    return str(path)


def write_config(tmp_path, npz, teacher, **distill):
    import yaml

    config = {
        "run": {"name": "digits", "output_dir": str(tmp_path / "runs")},
        "data": {"source": "npz", "path": npz, "validation_split": 0.25},
        "teacher": {"path": teacher},
        "student": {"filters": [8], "pooling": "flatten"},
        "scratch": {"epochs": 8, "batch_size": 32, "learning_rate": 0.01},
        "distill": {
            "epochs": 8,
            "batch_size": 32,
            "learning_rate": 0.01,
            "alpha": 0.0,
            "deployment_check": {"enabled": False},
            **distill,
        },
        "export": {"quantizations": ["float16"]},
        "report": {"latency_runs": 2},
    }
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_a_run_with_a_teacher_at_chance_stops_before_the_students(
    tmp_path, digits_npz_large, constant_teacher_path
):
    from kdkeras.cli.main import cli

    config = write_config(tmp_path, digits_npz_large, constant_teacher_path)
    result = CliRunner().invoke(cli, ["run", config])
    assert result.exit_code == 1, result.output
    assert "The teacher is at chance" in result.output
    assert "ready teacher (teacher.path" in result.output
    [run_dir] = os.listdir(tmp_path / "runs")
    state = json.load(open(tmp_path / "runs" / run_dir / "state.json"))
    assert list(state["stages"]) == ["teacher"]


@pytest.mark.slow
def test_a_weak_teacher_let_through_ships_the_scratch_student(
    tmp_path, digits_npz_large, constant_teacher_path
):
    from kdkeras.cli.main import cli

    config = write_config(
        tmp_path, digits_npz_large, constant_teacher_path, allow_weak_teacher=True
    )
    result = CliRunner().invoke(cli, ["run", config, "--strict"])
    # The run finishes, says why, and --strict turns its warnings into exit 3.
    assert result.exit_code == 3, result.output
    assert "the device package holds the student (scratch)" in result.output
    assert "WARNING (selection): student (distilled) predicts" in result.output
    assert "student float16 .tflite against teacher:" in result.output
    assert "(both timed in the LiteRT interpreter)" in result.output
    [run_dir] = os.listdir(tmp_path / "runs")
    folder = RunFolder(tmp_path / "runs" / run_dir)
    report = json.load(open(folder.file("report", "report.json")))
    kinds = [finding["kind"] for finding in report["findings"]]
    assert kinds.count("warning") >= 2 and "result" in kinds
    assert (
        "**Warning** (teacher_gate)" in open(folder.file("report", "report.md")).read()
    )
    rows = {row["name"]: row for row in report["rows"]}
    # The package's model is the scratch student, not the distilled one.
    x = np.load(digits_npz_large)["x_test"]
    package = keras.saving.load_model(folder.file("package", "model.keras"))
    scratch = keras.saving.load_model(folder.model_path("student_scratch"))
    np.testing.assert_allclose(
        package.predict(x, verbose=0), scratch.predict(x, verbose=0), atol=1e-5
    )
    assert rows["student (scratch)"]["accuracy"] > 0.8
    assert rows["student (distilled)"]["accuracy"] < 0.5
    assert rows["student float16 .tflite"]["accuracy"] == pytest.approx(
        rows["student (scratch)"]["accuracy"], abs=0.01
    )


@pytest.mark.tensorflow
def test_a_litert_file_that_disagrees_with_the_student_is_a_warning(tmp_path):
    from kdkeras.export import export_litert
    from kdkeras.pipeline.export_stage import check_agreement

    student = class_map_model(PERFECT, "student")
    context = make_context(tmp_path, {"student_scratch": student})
    agreeing = export_litert(student, str(tmp_path / "same.tflite"))
    # A file of another model: right on classes 0 and 1 only, so it agrees
    # with the student on 50 of 100 examples.
    other = export_litert(
        class_map_model(HALF_RIGHT, "other"), str(tmp_path / "other.tflite")
    )
    check_agreement(context, student, {"float32": agreeing, "other": other}, 0.98)
    [warning] = context.folder.findings("warning")
    assert warning["numbers"] == {"quantization": "other", "agreement": 0.5}
    assert "below export.min_agreement (98.0%)" in warning["message"]


def test_a_text_student_that_collapses_to_one_class_is_warned(tmp_path):
    """Real e-mails as token ids; an embedding bag whose last layer ignores
    the text (zero kernel, a bias for the first class) predicts one class."""
    from kdkeras.datasets import load_embedded_spam_assassin
    from kdkeras.text import WordTokenizer, build_embedding_bag

    (texts, labels), _ = load_embedded_spam_assassin()
    tokenizer = WordTokenizer.adapt(texts, vocabulary_size=300, sequence_length=32)
    ids = tokenizer(texts)
    keras.utils.set_random_seed(0)
    learned = build_embedding_bag(300, 32, 3, hidden_units=None, name="learned")
    learned.compile("adam", keras.losses.SparseCategoricalCrossentropy(True))
    learned.fit(ids, labels, epochs=30, batch_size=32, verbose=0)
    collapsed = build_embedding_bag(300, 32, 3, hidden_units=None, name="collapsed")
    kernel, bias = collapsed.layers[-1].get_weights()
    collapsed.layers[-1].set_weights([np.zeros_like(kernel), np.array([3.0, 0, 0])])
    config = validate_config(
        {
            "run": {"output_dir": str(tmp_path / "runs")},
            "data": {"source": "embedded_spam_assassin"},
        }
    )
    split = (ids, labels)
    data = RunData(
        split, split, split, ["easy", "hard", "spam"], (32,), None, tokenizer
    )
    context = RunContext(
        config, RunFolder.create(config), data, logging.getLogger("test_gates")
    )
    context.models.update(student_scratch=learned, student_distilled=collapsed)
    gates.choose_shipped_student(context)
    [warning] = context.folder.findings("warning")[:1]
    assert warning["message"].startswith(
        "student (distilled) predicts (almost) one class: 100% of its validation"
    )
    assert context.shipped_student == "student_scratch"
