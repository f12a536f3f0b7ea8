"""Tests of kdkeras.evaluation.model_kinds: a Keras model and a LiteRT file
scored and timed through one interface, on a 3-class model whose outputs
are its inputs (so every score is computed by hand)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from kdkeras.evaluation import evaluate_model, measure_latency
from kdkeras.evaluation.model_kinds import (
    KerasKind,
    LiteRTKind,
    model_format,
    model_kind,
    static_num_classes,
)
from kdkeras.export import export_litert
from kdkeras.litert import LiteRTModel

# Outputs = inputs: predicted classes [0, 1, 2, 0] for labels [0, 1, 2, 1].
X = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype="float32")
Y = np.array([0, 1, 2, 1])
SCORES = {
    "accuracy": 0.75,
    # Precision per class 1/2, 1, 1; recall 1, 1/2, 1; F1 2/3, 2/3, 1.
    "precision": 5 / 6,
    "recall": 5 / 6,
    "f1": 7 / 9,
    "confusion_matrix": [[1, 0, 0], [1, 1, 0], [0, 0, 1]],
}


@pytest.fixture(scope="module")
def models(identity_classifier, tmp_path_factory):
    keras_model = identity_classifier()
    path = tmp_path_factory.mktemp("kinds") / "identity.tflite"
    return keras_model, export_litert(keras_model, path)


def _check_scores(row):
    assert row["confusion_matrix"] == SCORES["confusion_matrix"]
    for key in ("accuracy", "precision", "recall", "f1"):
        assert row[key] == pytest.approx(SCORES[key]), key


def test_model_format_and_kind(models):
    keras_model, path = models
    assert model_format(keras_model) == "keras"
    assert model_format(path) == model_format(LiteRTModel(path)) == "litert"
    assert isinstance(model_kind(keras_model), KerasKind)
    kind = model_kind(path, num_threads=1, parameters=9)
    assert isinstance(kind, LiteRTKind)
    assert kind.model.num_threads == 1 and kind.parameters == 9
    assert kind.name == "identity" and kind.source == repr(path)
    assert model_kind(keras_model).source == "model 'identity'"
    with pytest.raises(ValueError, match="`model` must be a keras.Model, the path"):
        model_format(object())


def test_keras_kind_scores_and_sizes(models):
    keras_model, _ = models
    row = evaluate_model(keras_model, X, Y)
    _check_scores(row)
    assert row["name"] == "identity" and row["format"] == "keras"
    assert row["parameters"] == 9
    assert row["sparsity"] == pytest.approx(6 / 9)  # The zeros of eye(3).
    assert row["layer_sparsity"] == {"scores": pytest.approx(6 / 9)}
    assert row["size_bytes"] > 0 and row["gzipped_bytes"] > 0


def test_litert_kind_scores_as_the_keras_kind(models):
    keras_model, path = models
    row = evaluate_model(path, X, Y, parameters=9, name="identity int")
    _check_scores(row)
    assert row["name"] == "identity int" and row["format"] == "litert"
    assert row["parameters"] == 9
    assert row["size_bytes"] == os.path.getsize(path)
    assert row["sparsity"] is None and row["layer_sparsity"] is None
    keras_row = evaluate_model(keras_model, X, Y)
    assert {k: row[k] for k in SCORES} == {k: keras_row[k] for k in SCORES}


def test_both_kinds_score_a_dataset_batch_by_batch(models):
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(3)
    for model in models:
        _check_scores(evaluate_model(model, dataset, None))


def test_static_num_classes_and_predictions(models):
    for model in models:
        kind = model_kind(model)
        assert static_num_classes(model) == kind.static_num_classes() == 3
        np.testing.assert_allclose(kind.predict(X, 2, verbose=0), X, atol=1e-6)
        np.testing.assert_allclose(kind.predict_batch(X[:2], 2), X[:2], atol=1e-6)


def test_latency_runners(models):
    keras_model, path = models
    litert = LiteRTModel(path, num_threads=1)
    run, threads = model_kind(litert, num_threads=2).latency_runner(X[0])
    run()
    assert threads == 2 and litert.num_threads == 1  # Loaded again.
    run, threads = model_kind(litert).latency_runner(None)
    assert threads == 1
    run, _ = model_kind(keras_model).latency_runner(X[:1])
    run()
    for model in models:
        latency = measure_latency(model, X[0], num_runs=3, warmup=1)
        assert latency["num_runs"] == 3 and latency["min_ms"] > 0


def test_keras_kind_refuses_litert_options(models):
    keras_model, _ = models
    with pytest.raises(ValueError, match="`num_threads` must be None for a Keras"):
        model_kind(keras_model, num_threads=1)
    with pytest.raises(ValueError, match="`parameters` must be None for a Keras"):
        model_kind(keras_model, parameters=9)
