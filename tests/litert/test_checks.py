"""Tests of kdkeras.litert.checks: scores and agreement of .tflite models."""

import os

import numpy as np
import pytest
from sklearn import metrics as sklearn_metrics

from kdkeras.evaluation.scoring import evaluate_classifier
from kdkeras.litert import LiteRTModel, compare_with_keras, evaluate_litert


def test_evaluate_litert_scores_equal_sklearn(float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    predicted = LiteRTModel(float32_tflite).predict(x_test, verbose=0).argmax(-1)
    row = evaluate_litert(float32_tflite, x_test, y_test, verbose=0)
    assert row["name"] == "student_float32"
    assert row["accuracy"] == pytest.approx(
        sklearn_metrics.accuracy_score(y_test, predicted)
    )
    assert row["f1"] == pytest.approx(
        sklearn_metrics.f1_score(y_test, predicted, average="macro")
    )
    assert row["parameters"] is None
    assert row["size_bytes"] == os.path.getsize(float32_tflite)


def test_evaluate_litert_row_matches_keras_row(student, float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    keras_row = evaluate_classifier(student, x_test, y_test)
    row = evaluate_litert(
        LiteRTModel(float32_tflite),
        x_test,
        y_test[:, None],  # (N, 1) labels, as evaluate_classifier takes.
        name="student (LiteRT)",
        parameters=keras_row["parameters"],
        verbose=0,
    )
    assert row.keys() == keras_row.keys()
    assert row["name"] == "student (LiteRT)"
    assert row["parameters"] == student.count_params()
    for key in ("accuracy", "precision", "recall", "f1"):
        assert row[key] == pytest.approx(keras_row[key])


def test_compare_float32_with_keras(student, float32_tflite, fashion):
    _, (x_test, _) = fashion
    result = compare_with_keras(student, float32_tflite, x_test, verbose=0)
    assert result["max_abs_diff"] < 1e-4
    assert result["mean_abs_diff"] <= result["max_abs_diff"]
    assert result["top1_agreement"] == 1.0
    assert result["num_examples"] == len(x_test)


def test_int8_agrees_with_keras(student, int8_tflite, float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    result = compare_with_keras(student, int8_tflite, x_test, verbose=0)
    assert result["top1_agreement"] >= 0.98
    assert result["max_abs_diff"] > 0
    int8_row = evaluate_litert(int8_tflite, x_test, y_test, verbose=0)
    float32_row = evaluate_litert(float32_tflite, x_test, y_test, verbose=0)
    assert abs(int8_row["accuracy"] - float32_row["accuracy"]) <= 0.02
    assert int8_row["size_bytes"] < float32_row["size_bytes"]


def test_errors(student, float32_tflite, fashion):
    _, (x_test, y_test) = fashion
    with pytest.raises(ValueError, match="`x` and `y` must hold as many"):
        evaluate_litert(float32_tflite, x_test, y_test[:10], verbose=0)
    with pytest.raises(ValueError, match="`path_or_model` must be the path"):
        evaluate_litert(student, x_test, y_test)
    with pytest.raises(ValueError, match=r"`x` must have shape \(N, 28, 28, 1\)"):
        compare_with_keras(student, float32_tflite, np.zeros((3, 28, 28)))
