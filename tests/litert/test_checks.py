"""Tests of kdkeras.litert.checks: agreement of .tflite models with Keras.

Their scores are `kdkeras.evaluation.evaluate_model` rows, tested in
tests/evaluation/test_scoring.py.
"""

import numpy as np
import pytest

from kdkeras.litert import LiteRTModel, compare_with_keras, load_litert_model


def test_compare_float32_with_keras(student, float32_tflite, fashion):
    _, (x_test, _) = fashion
    result = compare_with_keras(student, float32_tflite, x_test, verbose=0)
    assert result["max_abs_diff"] < 1e-4
    assert result["mean_abs_diff"] <= result["max_abs_diff"]
    assert result["top1_agreement"] == 1.0
    assert result["num_examples"] == len(x_test)
    keras_outputs = student.predict(x_test, verbose=0)
    assert result["max_abs_keras_output"] == pytest.approx(np.abs(keras_outputs).max())


def test_int8_agrees_with_keras(student, int8_tflite, fashion):
    _, (x_test, _) = fashion
    result = compare_with_keras(student, int8_tflite, x_test, verbose=0)
    assert result["top1_agreement"] >= 0.98
    assert result["max_abs_diff"] > 0


def test_load_litert_model(float32_tflite):
    model = LiteRTModel(float32_tflite)
    assert load_litert_model(model, num_threads=1) is model  # Kept as it is.
    assert load_litert_model(float32_tflite, num_threads=1).num_threads == 1


def test_errors(student, float32_tflite, fashion):
    _, (x_test, _) = fashion
    with pytest.raises(ValueError, match="`path_or_model` must be the path"):
        compare_with_keras(student, student, x_test)
    with pytest.raises(ValueError, match=r"`x` must have shape \(N, 28, 28, 1\)"):
        compare_with_keras(student, float32_tflite, np.zeros((3, 28, 28)))
