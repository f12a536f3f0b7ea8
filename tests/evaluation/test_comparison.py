"""Tests of kdkeras.evaluation.comparison: `compare_models` and its progress."""

import numpy as np
import pytest

from kdkeras import evaluation

# Inputs are one-hot rows and the models are the identity, so the predicted
# class of each example is the position of its 1: 4 of 6 are right.
TRUE_CLASSES = np.array([0, 0, 1, 1, 2, 2])
INPUTS = np.eye(3, dtype="float32")[[0, 1, 1, 1, 2, 0]]
ACCURACY = 4 / 6


def test_compare_models_gives_one_row_per_model_in_order(identity_classifier):
    models = {
        "teacher": identity_classifier(name="a"),
        "student (distilled)": identity_classifier(activation="softmax", name="b"),
    }
    rows = evaluation.compare_models(models, INPUTS, TRUE_CLASSES, batch_size=2)
    assert [row["name"] for row in rows] == ["teacher", "student (distilled)"]
    assert [row["accuracy"] for row in rows] == pytest.approx([ACCURACY] * 2)


def model_lines(output):
    return [line.split(" (")[0] for line in output.splitlines() if line[:1] == "["]


def test_compare_models_prints_a_line_per_model_as_keras_verbose_does(
    identity_classifier, capsys
):
    models = {"teacher": identity_classifier(), "student": identity_classifier()}
    expected = [
        f"[1/2] teacher: accuracy {ACCURACY:.4f}",
        f"[2/2] student: accuracy {ACCURACY:.4f}",
    ]
    evaluation.compare_models(models, INPUTS, TRUE_CLASSES, verbose=0)
    assert capsys.readouterr().out == ""
    # "auto": the models' lines alone.
    evaluation.compare_models(models, INPUTS, TRUE_CLASSES)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" (")[0] for line in lines] == expected
    assert all(line.endswith(" s)") for line in lines)
    # 1: a progress bar of each model's predictions before its line.
    evaluation.compare_models(models, INPUTS, TRUE_CLASSES, verbose=1)
    output = capsys.readouterr().out
    assert model_lines(output) == expected
    assert "1/1" in output
    with pytest.raises(ValueError, match=r"`verbose` must be 0, 1, 2 or 'auto'"):
        evaluation.compare_models(models, INPUTS, TRUE_CLASSES, verbose=3)
    assert capsys.readouterr().out == ""


def test_compare_models_verbose_2_prints_each_step_of_each_model(
    identity_classifier, assert_lines_match, capsys
):
    models = {"teacher": identity_classifier(), "student": identity_classifier()}
    evaluation.compare_models(models, INPUTS, TRUE_CLASSES, latency_runs=3, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    patterns = []
    for number, name in enumerate(models, start=1):
        patterns += [
            rf"\[{number}/2\] {name}: scoring …",
            rf"{name}: predicted 6 examples in \d+\.\d s",
            rf"{name}: 9 parameters, [\d.]+ KB as \.keras \(\d+\.\d s\)",
            # In Keras, then as the float32 LiteRT twin that gives its latency.
            rf"{name}: timed in Keras: 3 batch-1 runs: median \d+\.\d{{3}} ms, "
            rf"p90 \d+\.\d{{3}} ms \(\d+\.\d s\)",
            rf"{name}: timed as float32 LiteRT: 3 batch-1 runs: median "
            rf"\d+\.\d{{3}} ms, p90 \d+\.\d{{3}} ms \(\d+\.\d s\)",
            rf"\[{number}/2\] {name}: accuracy {ACCURACY:.4f} \(\d+\.\d s\)",
        ]
    assert_lines_match(lines, patterns)


def test_compare_models_mixes_keras_and_litert(student, float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    # Both are timed by the LiteRT interpreter with num_threads: the Keras
    # model through its float32 twin, and in Keras too.
    rows = evaluation.compare_models(
        {"keras": student, "litert": float32_tflite},
        x_test,
        y_test,
        latency_runs=1,
        num_threads=1,
    )
    assert [row["format"] for row in rows] == ["keras", "litert"]
    assert rows[0].keys() - rows[1].keys() == {"keras_latency_median_ms"}
    assert rows[1].keys() <= rows[0].keys()
    for row in rows:
        assert row["latency_runtime"] == "litert"
        assert row["latency_num_threads"] == 1
        assert (row["latency_runs"], row["latency_warmup"]) == (1, 1)
    assert rows[0]["accuracy"] == pytest.approx(rows[1]["accuracy"])


@pytest.mark.parametrize(
    "models_around",
    [
        lambda model: {},
        lambda model: [model],
        lambda model: None,
        lambda model: {"a": model, "b": 3},
    ],
    ids=["empty", "list", "none", "not_a_model"],
)
def test_compare_models_refuses_anything_but_a_dict_of_models(
    models_around, identity_classifier
):
    models = models_around(identity_classifier())
    with pytest.raises(ValueError, match="`models` must be a non-empty dict"):
        evaluation.compare_models(models, INPUTS, TRUE_CLASSES)


def test_teacher_to_student_figures_by_hand():
    from kdkeras.evaluation import describe_teacher_to_student, teacher_to_student

    rows = [
        {
            "name": "teacher",
            "format": "keras",
            "accuracy": 0.92,
            "size_bytes": 4_000_000,
            "latency_median_ms": 8.0,
        },
        {
            "name": "student int8",
            "format": "litert",
            "accuracy": 0.9025,
            "size_bytes": 20_000,
            "latency_median_ms": 0.05,
        },
    ]
    figures = teacher_to_student(rows, "teacher", "student int8")
    assert figures == {
        "teacher": "teacher",
        "student": "student int8",
        "accuracy_points": -1.75,
        "size_ratio": 200.0,
        "latency_ratio": 160.0,
        "teacher_runtime": "Keras (a traced tf.function)",
        "student_runtime": "the LiteRT interpreter",
    }
    assert describe_teacher_to_student(figures) == (
        "student int8 against teacher: -1.75 accuracy points, 200× smaller, "
        "160× faster at batch 1 (the teacher timed in Keras (a traced "
        "tf.function), the student in the LiteRT interpreter: two runtimes)"
    )
    del rows[1]["latency_median_ms"]
    assert "latency_ratio" not in teacher_to_student(rows, "teacher", "student int8")
    with pytest.raises(ValueError, match="`student` must name a row"):
        teacher_to_student(rows, "teacher", "student")
