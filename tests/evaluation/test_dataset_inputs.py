"""Scoring and the report read a tf.data pipeline from an image folder batch
by batch (`keras.utils.image_dataset_from_directory`), with the same numbers
as the same images given as arrays."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kdkeras.evaluation import evaluate_model
from kdkeras.evaluation.report import compare_and_report
from kdkeras.export import export_litert
from kdkeras.models import build_cnn


def as_arrays(dataset):
    images, labels = zip(*dataset.as_numpy_iterator(), strict=True)
    return np.concatenate(images), np.concatenate(labels)


@pytest.fixture(scope="module")
def folder_model(image_folder, folder_dataset):
    keras.utils.set_random_seed(0)
    model = build_cnn(num_classes=3, filters=(4,), dense_units=None, name="cnn")
    model.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(folder_dataset(image_folder, shuffle=True), epochs=8, verbose=0)
    # Every class predicted, and not always right: a prediction scored
    # against another image's label changes the confusion matrix.
    x, y = as_arrays(folder_dataset(image_folder))
    predicted = model.predict(x, verbose=0).argmax(-1)
    assert np.bincount(predicted, minlength=3).min() >= 5, np.bincount(predicted)
    assert 0.6 <= np.mean(predicted == y), np.mean(predicted == y)
    return model


def test_dataset_row_equals_the_array_row(folder_model, image_folder, folder_dataset):
    dataset = folder_dataset(image_folder)
    x, y = as_arrays(dataset)
    from_arrays = evaluate_model(folder_model, x, y)
    from_dataset = evaluate_model(folder_model, dataset, None, latency_runs=2)
    for key in ("accuracy", "precision", "recall", "f1", "confusion_matrix"):
        assert from_dataset[key] == from_arrays[key], key
    assert np.sum(from_dataset["confusion_matrix"]) == 42
    assert from_dataset["latency_median_ms"] > 0


def test_a_reshuffling_dataset_still_pairs_predictions_with_labels(
    folder_model, image_folder, folder_dataset
):
    """One pass: each prediction is scored against its own label."""
    x, y = as_arrays(folder_dataset(image_folder))
    expected = evaluate_model(folder_model, x, y)["confusion_matrix"]
    shuffled = folder_dataset(image_folder, shuffle=True)
    # The dataset reshuffles on each pass: two passes differ in order.
    first, second = (as_arrays(shuffled)[1] for _ in range(2))
    assert not np.array_equal(first, second)
    # With this model the pairing shows: mispaired labels give another matrix.
    mispaired = evaluate_model(folder_model, x, np.roll(y, 7))["confusion_matrix"]
    assert mispaired != expected
    assert evaluate_model(folder_model, shuffled, None)["confusion_matrix"] == expected


def test_litert_file_on_a_dataset(folder_model, image_folder, tmp_path, folder_dataset):
    dataset = folder_dataset(image_folder)
    tflite_path = export_litert(
        folder_model,
        tmp_path / "model_int8.tflite",
        quantization="int8",
        representative_data=dataset,
    )
    row = evaluate_model(tflite_path, dataset, None, batch_size=4, latency_runs=2)
    keras_row = evaluate_model(folder_model, dataset, None)
    assert row["format"] == "litert"
    assert abs(row["accuracy"] - keras_row["accuracy"]) <= 2 / 42


def test_report_on_an_image_folder_names_the_classes(
    folder_model, image_folder, tmp_path, folder_dataset
):
    rows = compare_and_report(
        {"student": folder_model},
        folder_dataset(image_folder),
        None,
        tmp_path / "report",
        class_names=["bag", "sneaker", "trouser"],
        latency_runs=0,
    )
    assert rows[0]["name"] == "student"
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["class_names"] == ["bag", "sneaker", "trouser"]
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "| true \\ predicted | bag | sneaker | trouser |" in markdown


def test_dataset_errors(folder_model, image_folder, folder_dataset):
    dataset = folder_dataset(image_folder)
    with pytest.raises(ValueError, match="`y` must be None when `x` is a tf.data"):
        evaluate_model(folder_model, dataset, np.zeros(42))
    images_only = dataset.map(lambda images, labels: images)
    with pytest.raises(ValueError, match=r"must yield `\(inputs, labels\)` batches"):
        evaluate_model(folder_model, images_only, None)
    with pytest.raises(ValueError, match="must yield batched labels"):
        evaluate_model(folder_model, dataset.unbatch(), None)
    with pytest.raises(ValueError, match="at least one batch"):
        evaluate_model(folder_model, dataset.take(0), None)


def test_labels_out_of_range_in_a_dataset(folder_model):
    images = np.zeros((4, 28, 28, 1), "float32")
    dataset = tf.data.Dataset.from_tensor_slices((images, [0, 1, 2, 5])).batch(2)
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)"):
        evaluate_model(folder_model, dataset, None)
