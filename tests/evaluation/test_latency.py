"""Tests of kdkeras.litert.latency (no timing thresholds: the machine is shared)."""

import re

import numpy as np
import pytest

from kdkeras.evaluation import measure_latency
from kdkeras.litert import LiteRTModel

KEYS = {"median_ms", "p90_ms", "mean_ms", "min_ms", "num_runs", "num_threads"}


def check_sane(result, num_runs):
    assert set(result) == KEYS
    assert result["num_runs"] == num_runs
    assert 0 < result["min_ms"] <= result["median_ms"] <= result["p90_ms"]
    assert result["min_ms"] <= result["mean_ms"]
    assert result["median_ms"] < 1000  # Milliseconds, not microseconds.


def test_litert_path(float32_tflite):
    result = measure_latency(float32_tflite, num_runs=20, warmup=2, num_threads=1)
    check_sane(result, 20)
    assert result["num_threads"] == 1


def test_int8_model_with_an_example(int8_tflite, fashion):
    _, (x_test, _) = fashion
    model = LiteRTModel(int8_tflite)
    for example in (x_test[0], x_test[:1]):  # With or without the batch axis.
        check_sane(measure_latency(model, example, num_runs=10, warmup=0), 10)


def test_other_threads_reload_the_model(float32_tflite):
    model = LiteRTModel(float32_tflite, num_threads=1)
    result = measure_latency(model, num_runs=5, warmup=1, num_threads=2)
    assert result["num_threads"] == 2
    assert model.num_threads == 1


def test_keras_model(student):
    check_sane(measure_latency(student, num_runs=10, warmup=2), 10)


def test_errors(student, float32_tflite):
    with pytest.raises(ValueError, match="`num_threads` must be None for a Keras"):
        measure_latency(student, num_threads=1)
    with pytest.raises(ValueError, match="`num_runs` must be a positive integer"):
        measure_latency(float32_tflite, num_runs=0)
    with pytest.raises(ValueError, match="`warmup` must be a non-negative"):
        measure_latency(float32_tflite, warmup=-1)
    with pytest.raises(ValueError, match=r"`example` must be one input"):
        measure_latency(float32_tflite, example=np.zeros((2, 28, 28, 1)))
    with pytest.raises(ValueError, match=r"`x` must have shape"):
        measure_latency(float32_tflite, example=np.zeros((1, 28, 28, 3)))
    with pytest.raises(ValueError, match="`model` must be a keras.Model, the path"):
        measure_latency(object())


def test_verbose_shows_the_timed_runs(float32_tflite, student, capsys):
    measure_latency(float32_tflite, num_runs=3, warmup=0)
    assert capsys.readouterr().out == ""  # Quiet by default.
    measure_latency(float32_tflite, num_runs=3, warmup=0, verbose=2)
    line = capsys.readouterr().out.rstrip("\n")
    pattern = r"\w+: timed 3 batch-1 runs: median [\d.]+ ms, p90 [\d.]+ ms \([\d.]+ s\)"
    assert re.fullmatch(pattern, line), line
    assert line.startswith(LiteRTModel(float32_tflite).name + ": ")
    measure_latency(student, num_runs=3, warmup=0, verbose=1)
    assert "3/3" in capsys.readouterr().out  # A keras.utils.Progbar of the runs.
    with pytest.raises(ValueError, match="`verbose` must be 0, 1, 2 or 'auto'"):
        measure_latency(student, num_runs=3, verbose=3)
