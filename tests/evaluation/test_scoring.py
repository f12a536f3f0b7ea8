"""Tests of kdkeras.evaluation.scoring: `evaluate_model` rows of Keras and
LiteRT models (`compare_models`: test_comparison.py; sizes: test_sizes.py)."""

import json
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as sklearn_metrics

from kdkeras import evaluation, sparsity
from kdkeras.litert import LiteRTModel

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
# Rows: true class; columns: predicted class.
EXPECTED_CONFUSION_MATRIX = [
    [1, 1, 0],  # Class 0: once right, once taken for 1.
    [0, 2, 0],  # Class 1: both right.
    [1, 0, 1],  # Class 2: once right, once taken for 0.
]
ROW_KEYS = {
    "name",
    "format",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "confusion_matrix",
    "parameters",
    "size_bytes",
    "gzipped_bytes",
    "sparsity",
    "layer_sparsity",
}
LATENCY_KEYS = {
    "latency_median_ms",
    "latency_p90_ms",
    "latency_runtime",
    "latency_warmup",
    "latency_runs",
    "latency_num_threads",
}


def without_size(row):
    # The size varies by a few bytes with the length of auto-generated names.
    return {key: value for key, value in row.items() if key != "size_bytes"}


def assert_scores_equal(row, expected):
    for key, value in expected.items():
        assert row[key] == pytest.approx(value), key


# evaluate_model on Keras models


def test_evaluate_model_matches_hand_computed_scores(identity_classifier):
    model = identity_classifier()
    row = evaluation.evaluate_model(model, INPUTS, TRUE_CLASSES, name="stub")
    assert_scores_equal(row, EXPECTED_SCORES)
    assert row["confusion_matrix"] == EXPECTED_CONFUSION_MATRIX
    assert row["name"] == "stub"
    assert row["format"] == "keras"
    assert row["parameters"] == 9
    assert row["size_bytes"] == evaluation.model_size_bytes(model)
    assert row["gzipped_bytes"] == sparsity.gzipped_size_bytes(model)
    # The identity kernel: 6 of its 9 entries are 0.
    assert row["sparsity"] == pytest.approx(6 / 9)
    assert row["layer_sparsity"] == {"scores": pytest.approx(6 / 9)}
    assert set(row) == ROW_KEYS


def test_evaluate_model_agrees_with_sklearn(identity_classifier):
    row = evaluation.evaluate_model(identity_classifier(), INPUTS, TRUE_CLASSES)
    assert row["f1"] == pytest.approx(
        sklearn_metrics.f1_score(TRUE_CLASSES, PREDICTED_CLASSES, average="macro")
    )
    assert row["confusion_matrix"] == (
        sklearn_metrics.confusion_matrix(TRUE_CLASSES, PREDICTED_CLASSES).tolist()
    )


def test_evaluate_model_row_is_plain_python(identity_classifier):
    row = evaluation.evaluate_model(identity_classifier(), INPUTS, TRUE_CLASSES)
    assert row["name"] == "identity"  # The model's name by default.
    assert type(row["accuracy"]) is float
    assert type(row["parameters"]) is int
    assert type(row["confusion_matrix"][0][0]) is int
    json.dumps(row)


def test_evaluate_model_confusion_matrix_has_a_row_for_an_absent_class(
    identity_classifier,
):
    # Two examples of class 0 on a 3-class model: classes 1 and 2 are absent
    # from the labels but not from the matrix.
    inputs = np.eye(3, dtype="float32")[[0, 2]]
    row = evaluation.evaluate_model(identity_classifier(), inputs, np.array([0, 0]))
    assert row["confusion_matrix"] == [[1, 0, 1], [0, 0, 0], [0, 0, 0]]


def test_evaluate_model_probabilities_score_as_logits(identity_classifier):
    logits_row = evaluation.evaluate_model(identity_classifier(), INPUTS, TRUE_CLASSES)
    probabilities_row = evaluation.evaluate_model(
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
def test_evaluate_model_labels_in_any_format_score_the_same(
    labels, identity_classifier
):
    sparse_row = evaluation.evaluate_model(identity_classifier(), INPUTS, TRUE_CLASSES)
    row = evaluation.evaluate_model(identity_classifier(), INPUTS, labels)
    assert without_size(row) == without_size(sparse_row)


def test_evaluate_model_absent_class_scores_zero_without_warning(identity_classifier):
    # Class 2 is never predicted: its precision is 0/0, counted as 0.
    inputs = np.eye(3, dtype="float32")[[0, 1, 1]]
    row = evaluation.evaluate_model(identity_classifier(), inputs, np.array([0, 1, 2]))
    assert row["precision"] == pytest.approx((1 + 1 / 2 + 0) / 3)


def test_evaluate_model_measures_latency_only_when_asked(identity_classifier):
    row = evaluation.evaluate_model(
        identity_classifier(), INPUTS, TRUE_CLASSES, latency_runs=3
    )
    # Timed by the LiteRT interpreter through its float32 twin, and in Keras.
    assert set(row) == ROW_KEYS | LATENCY_KEYS | {"keras_latency_median_ms"}
    assert 0 < row["latency_median_ms"] <= row["latency_p90_ms"]
    assert row["latency_runtime"] == "litert" and row["keras_latency_median_ms"] > 0
    assert (row["latency_runs"], row["latency_warmup"]) == (3, 1)


def test_a_keras_model_is_timed_on_its_litert_twin_made_once(
    identity_classifier, monkeypatch
):
    from kdkeras.evaluation import litert_twin as twin_module

    model = identity_classifier()
    converted = []
    real_convert = twin_module._convert
    monkeypatch.setattr(
        twin_module, "_convert", lambda m: converted.append(m) or real_convert(m)
    )
    first = evaluation.evaluate_model(
        model, INPUTS, TRUE_CLASSES, latency_runs=2, num_threads=1
    )
    again = evaluation.evaluate_model(model, INPUTS, TRUE_CLASSES, latency_runs=2)
    assert converted == [model]  # One conversion for the model's two rows.
    twin = twin_module.litert_twin(model)
    assert twin.path.endswith("model_float32.tflite") and twin.reason is None
    assert first["latency_num_threads"] == 1
    assert first["latency_runtime"] == again["latency_runtime"] == "litert"


def test_a_keras_model_that_does_not_convert_is_timed_in_keras_and_says_why(
    identity_classifier, monkeypatch
):
    from kdkeras.evaluation import litert_twin as twin_module

    monkeypatch.setattr(
        twin_module,
        "_convert",
        lambda model: twin_module.LiteRTTwin(None, "op Foo has no LiteRT kernel"),
    )
    row = evaluation.evaluate_model(
        identity_classifier(), INPUTS, TRUE_CLASSES, latency_runs=2
    )
    assert row["latency_runtime"] == "keras"
    assert row["latency_median_ms"] == row["keras_latency_median_ms"]
    assert "op Foo has no LiteRT kernel" in row["latency_note"]


# evaluate_model on LiteRT models


def test_evaluate_model_tflite_scores_equal_sklearn(float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    predicted = LiteRTModel(float32_tflite).predict(x_test, verbose=0).argmax(-1)
    row = evaluation.evaluate_model(float32_tflite, x_test, y_test)
    assert row["name"] == "student_float32"  # The file name by default.
    assert row["format"] == "litert"
    assert row["accuracy"] == pytest.approx(
        sklearn_metrics.accuracy_score(y_test, predicted)
    )
    assert row["f1"] == pytest.approx(
        sklearn_metrics.f1_score(y_test, predicted, average="macro")
    )
    assert row["confusion_matrix"] == (
        sklearn_metrics.confusion_matrix(y_test, predicted, labels=range(10)).tolist()
    )
    assert row["parameters"] is None
    assert row["size_bytes"] == os.path.getsize(float32_tflite)
    assert row["gzipped_bytes"] == sparsity.gzipped_size_bytes(float32_tflite)
    assert row["sparsity"] is None and row["layer_sparsity"] is None
    json.dumps(row)


def test_keras_and_tflite_rows_have_the_same_keys(student, float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    keras_row = evaluation.evaluate_model(student, x_test, y_test)
    row = evaluation.evaluate_model(
        LiteRTModel(float32_tflite),
        x_test,
        y_test[:, None],  # (N, 1) labels score as (N,) ones.
        name="student (LiteRT)",
        parameters=keras_row["parameters"],
    )
    assert row.keys() == keras_row.keys() == ROW_KEYS
    assert row["name"] == "student (LiteRT)"
    assert row["parameters"] == student.count_params()
    for key in ("accuracy", "precision", "recall", "f1"):
        assert row[key] == pytest.approx(keras_row[key])
    # The float32 file predicts the classes the Keras model does.
    assert row["confusion_matrix"] == keras_row["confusion_matrix"]


def test_keras_and_tflite_rows_with_latency_have_the_same_keys(
    student, float32_tflite, fashion
):
    _, (x_test, y_test) = fashion
    keras_row = evaluation.evaluate_model(student, x_test, y_test, latency_runs=2)
    row = evaluation.evaluate_model(
        float32_tflite, x_test, y_test, latency_runs=2, num_threads=1
    )
    assert row.keys() == ROW_KEYS | LATENCY_KEYS
    assert keras_row.keys() == row.keys() | {"keras_latency_median_ms"}
    assert 0 < row["latency_median_ms"] <= row["latency_p90_ms"]


def test_int8_file_scores_close_to_float32(int8_tflite, float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    int8_row = evaluation.evaluate_model(int8_tflite, x_test, y_test)
    float32_row = evaluation.evaluate_model(float32_tflite, x_test, y_test)
    assert abs(int8_row["accuracy"] - float32_row["accuracy"]) <= 0.02
    assert int8_row["size_bytes"] < float32_row["size_bytes"]


def test_evaluate_model_tflite_refuses_mismatched_lengths(float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    with pytest.raises(ValueError, match="`x` and `y` must hold as many"):
        evaluation.evaluate_model(float32_tflite, x_test, y_test[:10])


# evaluate_model's errors


def test_evaluate_model_refuses_a_single_output():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="num_classes >= 2"):
        evaluation.evaluate_model(model, INPUTS, TRUE_CLASSES)


def test_evaluate_model_refuses_several_outputs():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, [keras.layers.Dense(3)(inputs)] * 2)
    with pytest.raises(ValueError, match="`model` must have one output"):
        evaluation.evaluate_model(model, INPUTS, TRUE_CLASSES)


def test_evaluate_model_refuses_mismatched_lengths(identity_classifier):
    with pytest.raises(ValueError, match="as many examples"):
        evaluation.evaluate_model(identity_classifier(), INPUTS, TRUE_CLASSES[:-1])


def test_evaluate_model_refuses_labels_of_bad_rank(identity_classifier):
    with pytest.raises(ValueError, match="`y`"):
        evaluation.evaluate_model(identity_classifier(), INPUTS, np.zeros((6, 3, 1)))


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([0, 0, 1, 1, 2, 3]), r"`y` must hold class ids in \[0, 3\)"),
        (np.array([0, 0, 1, 1, 2, -1]), r"from -1 to 2"),
        (
            np.eye(4)[TRUE_CLASSES],
            r"`y` must have 3 columns, one per class of the model",
        ),
    ],
)
def test_evaluate_model_refuses_classes_the_model_does_not_output(
    labels, message, identity_classifier
):
    with pytest.raises(ValueError, match=message):
        evaluation.evaluate_model(identity_classifier(), INPUTS, labels)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(model=None), r"`model` must be a keras.Model, .*Received: .*NoneType"),
        (dict(model=np.eye(3)), r"`model` must be .*Received: .*ndarray"),
        (dict(name=3), r"`name` must be a string or None. Received: name=3"),
        (dict(parameters=9), r"`parameters` must be None for a Keras model"),
        (dict(batch_size=0), r"`batch_size` must be a positive integer"),
        (dict(latency_runs=-1), r"`latency_runs` must be a non-negative integer"),
        (dict(latency_runs=2.0), r"Received: latency_runs=2.0"),
        (dict(latency_runs=True), r"Received: latency_runs=True"),
        (dict(num_threads=0), r"`num_threads` must be a positive integer or None"),
    ],
)
def test_evaluate_model_bad_arguments(arguments, message, identity_classifier):
    arguments = {"model": identity_classifier(), **arguments}
    with pytest.raises(ValueError, match=message):
        evaluation.evaluate_model(x=INPUTS, y=TRUE_CLASSES, **arguments)


def test_evaluate_model_refuses_negative_parameters_of_a_tflite_file(float32_tflite):
    with pytest.raises(ValueError, match=r"Received: parameters=-1"):
        evaluation.evaluate_model(float32_tflite, INPUTS, TRUE_CLASSES, parameters=-1)


# verbose


def test_evaluate_model_verbose_2_prints_a_line_per_step(
    float32_tflite, fashion, capsys
):
    _, (x_test, y_test) = fashion
    evaluation.evaluate_model(float32_tflite, x_test[:50], y_test[:50], latency_runs=2)
    assert capsys.readouterr().out == ""  # Quiet by default.
    evaluation.evaluate_model(
        float32_tflite, x_test[:50], y_test[:50], name="int8", latency_runs=2, verbose=2
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"int8: predicted 50 examples in [\d.]+ s", lines[0])
    assert lines[1].startswith("int8: timed 2 batch-1 runs: median ")


def test_evaluate_model_verbose_1_shows_progress_bars(identity_classifier, capsys):
    model = identity_classifier()
    evaluation.evaluate_model(model, INPUTS, TRUE_CLASSES, latency_runs=2, verbose=1)
    output = capsys.readouterr().out
    assert "1/1" in output and "2/2" in output  # The batch, then the timed runs.
    dataset = tf.data.Dataset.from_tensor_slices((INPUTS, TRUE_CLASSES)).batch(4)
    evaluation.evaluate_model(model, dataset, None, verbose=1)
    assert "2" in capsys.readouterr().out  # Two batches, their count unknown.
    with pytest.raises(ValueError, match="`verbose` must be 0, 1, 2 or 'auto'"):
        evaluation.evaluate_model(model, INPUTS, TRUE_CLASSES, verbose=True)
