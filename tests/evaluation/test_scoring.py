"""Tests of kdkeras.evaluation: scores, sizes, table and JSON."""

import json
import os

import keras
import numpy as np
import pytest
from sklearn import metrics as sklearn_metrics

from kdkeras import evaluation
from kdkeras.models import build_mlp

# Inputs are one-hot rows and the stub model is the identity, so the predicted
# class of each example is the position of its 1.
TRUE_CLASSES = np.array([0, 0, 1, 1, 2, 2])
PREDICTED_CLASSES = np.array([0, 1, 1, 1, 2, 0])
INPUTS = np.eye(3, dtype="float32")[PREDICTED_CLASSES]

# By hand, per class (precision, recall, F1):
#   class 0: 1 of 2 predicted right, 1 of 2 found -> 1/2, 1/2, 1/2
#   class 1: 2 of 3 predicted right, 2 of 2 found -> 2/3, 1,   4/5
#   class 2: 1 of 1 predicted right, 1 of 2 found -> 1,   1/2, 2/3
EXPECTED_SCORES = {
    "accuracy": 4 / 6,
    "precision": (1 / 2 + 2 / 3 + 1) / 3,
    "recall": (1 / 2 + 1 + 1 / 2) / 3,
    "f1": (1 / 2 + 4 / 5 + 2 / 3) / 3,
}


def identity_classifier(activation=None, name="identity"):
    """A 3-class linear model whose outputs are its inputs (9 weights)."""
    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Dense(
        3, use_bias=False, activation=activation, name="scores"
    )(inputs)
    model = keras.Model(inputs, outputs, name=name)
    model.get_layer("scores").set_weights([np.eye(3, dtype="float32")])
    return model


def without_size(row):
    # The size varies by a few bytes with the length of auto-generated names.
    return {key: value for key, value in row.items() if key != "size_bytes"}


def assert_scores_equal(row, expected):
    for key, value in expected.items():
        assert row[key] == pytest.approx(value), key


# count_parameters and model_size_bytes


def test_count_parameters_counts_all_weights():
    assert evaluation.count_parameters(identity_classifier()) == 9
    model = build_mlp(num_classes=3, input_shape=(4,), hidden_units=(5,))
    assert evaluation.count_parameters(model) == (4 * 5 + 5) + (5 * 3 + 3)


def test_model_size_bytes_grows_with_the_weights():
    small = build_mlp(input_shape=(8,), hidden_units=(4,))
    large = build_mlp(input_shape=(8,), hidden_units=(4096,))
    small_size = evaluation.model_size_bytes(small)
    large_size = evaluation.model_size_bytes(large)
    assert isinstance(small_size, int) and small_size > 0
    # 4096 * (8 + 1 + 10) float32 weights more, which compress little (the
    # biases are zeros).
    assert large_size - small_size > 4096 * 18 * 4 * 0.9


def test_model_size_bytes_leaves_out_the_optimizer_state_by_default():
    model = build_mlp(input_shape=(8,), hidden_units=(1024,))
    uncompiled_size = evaluation.model_size_bytes(model)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 8)), np.zeros((4, 10)), epochs=1, verbose=0)
    assert evaluation.model_size_bytes(model) == pytest.approx(
        uncompiled_size, rel=0.01
    )
    # Adam keeps two values per weight.
    with_optimizer = evaluation.model_size_bytes(model, include_optimizer=True)
    assert with_optimizer > 2.5 * uncompiled_size


def test_model_size_bytes_leaves_out_a_nested_models_optimizer_state():
    # A fine-tuned teacher wrapped with its input view, as in the demo.
    teacher = build_mlp(input_shape=(8,), hidden_units=(1024,), name="teacher")
    teacher_size = evaluation.model_size_bytes(teacher)
    teacher.compile(optimizer="adam", loss="mse")
    teacher.fit(np.zeros((4, 8)), np.zeros((4, 10)), epochs=1, verbose=0)
    wrapper = keras.Sequential([keras.Input((8,)), teacher])
    assert evaluation.model_size_bytes(wrapper) == pytest.approx(teacher_size, rel=0.05)
    assert teacher.optimizer is not None  # The model itself is left as it was.


# evaluate_classifier


def test_evaluate_classifier_matches_hand_computed_scores():
    model = identity_classifier()
    row = evaluation.evaluate_classifier(model, INPUTS, TRUE_CLASSES, name="stub")
    assert_scores_equal(row, EXPECTED_SCORES)
    assert row["name"] == "stub"
    assert row["parameters"] == 9
    assert row["size_bytes"] == evaluation.model_size_bytes(model)
    assert set(row) == {
        "name",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "parameters",
        "size_bytes",
    }


def test_evaluate_classifier_agrees_with_sklearn():
    row = evaluation.evaluate_classifier(identity_classifier(), INPUTS, TRUE_CLASSES)
    assert row["f1"] == pytest.approx(
        sklearn_metrics.f1_score(TRUE_CLASSES, PREDICTED_CLASSES, average="macro")
    )


def test_evaluate_classifier_row_is_plain_python():
    row = evaluation.evaluate_classifier(identity_classifier(), INPUTS, TRUE_CLASSES)
    assert row["name"] == "identity"  # The model's name by default.
    assert type(row["accuracy"]) is float
    assert type(row["parameters"]) is int
    json.dumps(row)


def test_evaluate_classifier_probabilities_score_as_logits():
    logits_row = evaluation.evaluate_classifier(
        identity_classifier(), INPUTS, TRUE_CLASSES
    )
    probabilities_row = evaluation.evaluate_classifier(
        identity_classifier(activation="softmax"), INPUTS, TRUE_CLASSES
    )
    assert_scores_equal(probabilities_row, EXPECTED_SCORES)
    assert without_size(probabilities_row) == without_size(logits_row)


@pytest.mark.parametrize(
    "labels",
    [
        np.eye(3)[TRUE_CLASSES],
        np.eye(3, dtype="float32")[TRUE_CLASSES],
        TRUE_CLASSES.reshape(-1, 1),
        TRUE_CLASSES.astype("uint8"),
        list(TRUE_CLASSES),
    ],
)
def test_evaluate_classifier_labels_in_any_format_score_the_same(labels):
    sparse_row = evaluation.evaluate_classifier(
        identity_classifier(), INPUTS, TRUE_CLASSES
    )
    row = evaluation.evaluate_classifier(identity_classifier(), INPUTS, labels)
    assert without_size(row) == without_size(sparse_row)


def test_evaluate_classifier_absent_class_scores_zero_without_warning():
    # Class 2 is never predicted: its precision is 0/0, counted as 0.
    inputs = np.eye(3, dtype="float32")[[0, 1, 1]]
    row = evaluation.evaluate_classifier(
        identity_classifier(), inputs, np.array([0, 1, 2])
    )
    assert row["precision"] == pytest.approx((1 + 1 / 2 + 0) / 3)


def test_evaluate_classifier_refuses_a_single_output():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="num_classes >= 2"):
        evaluation.evaluate_classifier(model, INPUTS, TRUE_CLASSES)


def test_evaluate_classifier_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="as many examples"):
        evaluation.evaluate_classifier(identity_classifier(), INPUTS, TRUE_CLASSES[:-1])


def test_evaluate_classifier_refuses_labels_of_bad_rank():
    with pytest.raises(ValueError, match="`y`"):
        evaluation.evaluate_classifier(
            identity_classifier(), INPUTS, np.zeros((6, 3, 1))
        )


# compare_models


def test_compare_models_gives_one_row_per_model_in_order():
    models = {
        "teacher": identity_classifier(name="a"),
        "student (distilled)": identity_classifier(activation="softmax", name="b"),
    }
    rows = evaluation.compare_models(models, INPUTS, TRUE_CLASSES, batch_size=2)
    assert [row["name"] for row in rows] == ["teacher", "student (distilled)"]
    for row in rows:
        assert_scores_equal(row, EXPECTED_SCORES)


@pytest.mark.parametrize("models", [{}, [identity_classifier()], None])
def test_compare_models_refuses_anything_but_a_dict_of_models(models):
    with pytest.raises(ValueError, match="`models`"):
        evaluation.compare_models(models, INPUTS, TRUE_CLASSES)


# format_table

ROWS = [
    {
        "name": "teacher",
        "accuracy": 0.87654,
        "precision": 0.8,
        "recall": 0.75,
        "f1": 0.7,
        "parameters": 111146,
        "size_bytes": 2 * 1024**2,
    },
    {
        "name": "student (distilled)",
        "accuracy": 0.5,
        "precision": 0.25,
        "recall": 0.125,
        "f1": 0.0625,
        "parameters": 950,
        "size_bytes": 512,
    },
]


def test_format_table_shows_every_name_and_number():
    table = evaluation.format_table(ROWS)
    for text in (
        "teacher",
        "student (distilled)",
        "0.8765",
        "0.8000",
        "0.7500",
        "0.7000",
        "111,146",
        "2.00 MB",
        "0.5000",
        "0.2500",
        "0.1250",
        "0.0625",
        "950",
        "0.5 KB",
    ):
        assert text in table, text


def test_format_table_is_aligned():
    lines = evaluation.format_table(ROWS).splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert lines[0].split() == [
        "model",
        "accuracy",
        "precision",
        "recall",
        "F1",
        "parameters",
        "size",
    ]
    assert set(lines[1]) == {"-", " "}
    # Names are left-aligned, numbers right-aligned: every line ends together.
    assert len({len(line) for line in lines}) == 1
    assert lines[3].startswith("student (distilled)")
    assert lines[2].index("0.8765") == lines[3].index("0.5000")


def test_format_table_shows_a_dash_for_a_missing_value():
    row = dict(ROWS[0], size_bytes=None)
    assert evaluation.format_table([row]).splitlines()[2].endswith(" -")


@pytest.mark.parametrize(
    "num_bytes, text",
    [
        (0, "0.0 KB"),
        (1536, "1.5 KB"),
        (1024**2 - 1, "1024.0 KB"),
        (3 * 1024**2, "3.00 MB"),
    ],
)
def test_format_size(num_bytes, text):
    assert evaluation.format_size(num_bytes) == text


# save_rows_json


def test_save_rows_json_writes_readable_json(tmp_path):
    path = tmp_path / "results" / "comparison.json"
    rows = [dict(ROWS[0], accuracy=np.float32(0.5), parameters=np.int64(7))]
    assert evaluation.save_rows_json(rows, path) == path
    with open(path, encoding="utf-8") as file:
        loaded = json.load(file)
    assert loaded == [dict(ROWS[0], accuracy=0.5, parameters=7)]


def test_save_rows_json_replaces_an_existing_file(tmp_path):
    path = tmp_path / "comparison.json"
    evaluation.save_rows_json(ROWS, path)
    evaluation.save_rows_json(ROWS[:1], path)
    with open(path, encoding="utf-8") as file:
        assert json.load(file) == ROWS[:1]
    assert os.listdir(tmp_path) == ["comparison.json"]


def test_save_rows_json_failure_leaves_the_old_file_untouched(tmp_path):
    path = tmp_path / "comparison.json"
    evaluation.save_rows_json(ROWS, path)
    with pytest.raises(TypeError, match="not JSON serializable"):
        evaluation.save_rows_json([{"name": object()}], path)
    with open(path, encoding="utf-8") as file:
        assert json.load(file) == ROWS
    assert os.listdir(tmp_path) == ["comparison.json"]
