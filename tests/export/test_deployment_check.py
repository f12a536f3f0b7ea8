"""Tests of `kdkeras.export.DeploymentCheck`: int8 numbers logged while training."""

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

import kdkeras
from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.export import DeploymentCheck, ExportError, deployment_check
from kdkeras.models import build_cnn


@pytest.fixture(scope="module")
def tiny_fashion():
    """300 training and 200 held-out real Fashion-MNIST images (uint8)."""
    (x_train, y_train), (x_test, y_test) = load_embedded_fashion_mnist()
    return (x_train[:300, ..., None], y_train[:300]), (
        x_test[:200, ..., None],
        y_test[:200],
    )


def demo_student(seed=0):
    """The demo's 9k-parameter CNN, compiled for a plain `fit`."""
    keras.utils.set_random_seed(seed)
    model = build_cnn(filters=(8, 16), dense_units=None, pooling="flatten")
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


@pytest.fixture(scope="module")
def diverse_student_weights(fashion, tiny_fashion):
    """The weights of `demo_student()` after 2 epochs on 3,000 real
    Fashion-MNIST images (`fashion`, a few seconds): it predicts many classes
    on the held-out images, so that its int8 file agreeing with it is not one
    constant class agreeing with another."""
    (x_train, y_train), _ = fashion
    _, (x_held_out, _) = tiny_fashion
    model = demo_student()
    model.fit(x_train, y_train, epochs=2, batch_size=32, verbose=0)
    predicted = model.predict(x_held_out, verbose=0).argmax(-1)
    counts = np.bincount(predicted, minlength=10)
    assert (counts >= 3).sum() >= 5, counts  # 5 classes, 3 images or more each
    return model.get_weights()


def scalars(log_dir, tag):
    """`{step: value}` of the scalar `tag` in TensorBoard's event files."""
    values = {}
    for path in glob.glob(f"{log_dir}/**/events.out.tfevents.*", recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def test_logs_the_int8_numbers_to_history_and_tensorboard(
    tiny_fashion, diverse_student_weights, tmp_path
):
    (x_train, y_train), (x_held_out, y_held_out) = tiny_fashion
    model = demo_student()
    model.set_weights(diverse_student_weights)
    check = DeploymentCheck(x_held_out, y_held_out, latency_runs=20)
    history = model.fit(
        x_train,
        y_train,
        epochs=2,
        batch_size=32,
        verbose=0,
        # TensorBoard after the check: it sees the check's values.
        callbacks=[check, keras.callbacks.TensorBoard(str(tmp_path))],
    )
    logged = history.history
    for name in kdkeras.export.deployment_check.LOGGED_METRICS:
        assert len(logged[name]) == 2, name
    assert all(0.0 <= value <= 1.0 for value in logged["int8_accuracy"])
    # The demo's 9k CNN loses almost nothing to int8: most predictions agree,
    # on a student that tells classes apart (`diverse_student_weights`).
    assert min(logged["int8_agreement"]) >= 0.9
    assert min(result["float_accuracy"] for result in check.results) >= 0.5
    # One int8 weight per parameter (9,170), plus the file's structure.
    assert all(9_170 < size < 40_000 for size in logged["int8_size_bytes"])
    assert all(0.0 < ms < 100.0 for ms in logged["int8_latency_ms"])
    # After the last epoch the checked model is the trained model itself.
    predictions = model.predict(x_held_out, verbose=0).argmax(axis=-1)
    assert len(np.unique(predictions)) >= 5, np.bincount(predictions)
    float_accuracy = float(np.mean(predictions == y_held_out))
    last = check.results[-1]
    assert last["epoch"] == 2 and last["float_accuracy"] == pytest.approx(
        float_accuracy
    )
    assert logged["int8_accuracy_drop"][-1] == pytest.approx(
        float_accuracy - logged["int8_accuracy"][-1]
    )
    recorded = scalars(tmp_path, "epoch_int8_accuracy")
    assert recorded == pytest.approx(dict(enumerate(logged["int8_accuracy"])))
    assert scalars(tmp_path, "epoch_int8_size_bytes")


def test_stops_a_distiller_on_a_budget_it_cannot_meet(tiny_fashion, capsys):
    (x_train, y_train), (x_held_out, y_held_out) = tiny_fashion
    keras.utils.set_random_seed(1)
    teacher = build_cnn(filters=(4,), dense_units=None, name="teacher")
    distiller = kdkeras.Distiller(teacher=teacher, student=demo_student())
    distiller.compile(optimizer="adam", metrics=["accuracy"], alpha=0.5)
    # Any real drop exceeds -1: only int8 at 100% and float at 0% would not.
    check = DeploymentCheck(
        x_held_out,
        y_held_out,
        max_accuracy_drop=-1.0,
        on_budget_exceeded="stop",
        latency_runs=0,
    )
    history = distiller.fit(
        x_train, y_train, epochs=3, batch_size=64, verbose=0, callbacks=[check]
    )
    assert history.epoch == [0] and check.stopped
    assert "int8_latency_ms" not in history.history
    assert "exceeds max_accuracy_drop=-1. Stopping training." in capsys.readouterr().out
    # What was checked is the student, not the Distiller (teacher included).
    predictions = distiller.student.predict(x_held_out, verbose=0).argmax(axis=-1)
    assert check.results[0]["float_accuracy"] == pytest.approx(
        float(np.mean(predictions == y_held_out))
    )


def test_warns_every_n_epochs_on_a_dataset_sample(tiny_fashion):
    (x_train, y_train), (x_held_out, y_held_out) = tiny_fashion
    sample = tf.data.Dataset.from_tensor_slices((x_held_out, y_held_out)).batch(64)
    check = DeploymentCheck(
        sample,
        every_n_epochs=2,
        num_examples=100,
        max_accuracy_drop=-1.0,
        latency_runs=0,
    )
    with pytest.warns(UserWarning, match=r"Epoch 2: .* on 100 held-out examples"):
        history = demo_student().fit(
            x_train, y_train, epochs=2, batch_size=64, verbose=0, callbacks=[check]
        )
    assert history.epoch == [0, 1] and not check.stopped  # Warned only.
    assert len(history.history["int8_accuracy"]) == 1
    assert [result["epoch"] for result in check.results] == [2]


def test_a_failed_export_warns_or_stops_instead_of_raising(tiny_fashion, monkeypatch):
    def failing_export(*args, **kwargs):
        raise ExportError("calibration broken")

    monkeypatch.setattr(deployment_check, "export_litert", failing_export)
    (x_train, y_train), (x_held_out, y_held_out) = tiny_fashion
    model = demo_student()
    check = DeploymentCheck(x_held_out[:20], y_held_out[:20])  # No budget.
    with pytest.warns(UserWarning, match="export failed .*: calibration broken"):
        history = model.fit(
            x_train[:64], y_train[:64], epochs=2, verbose=0, callbacks=[check]
        )
    assert history.epoch == [0, 1] and not check.stopped
    assert "int8_accuracy" not in history.history
    assert [result["error"] for result in check.results] == ["calibration broken"] * 2
    check = DeploymentCheck(
        x_held_out[:20],
        y_held_out[:20],
        max_accuracy_drop=0.5,
        on_budget_exceeded="stop",
    )
    history = model.fit(
        x_train[:64], y_train[:64], epochs=2, verbose=0, callbacks=[check]
    )
    assert history.epoch == [0] and check.stopped


X, Y = np.zeros((4, 28, 28, 1), "float32"), np.array([0, 1, 2, 3])


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        (dict(every_n_epochs=0), ValueError, "`every_n_epochs` must be a positive"),
        (dict(every_n_epochs=1.5), ValueError, "Received: every_n_epochs=1.5"),
        (
            dict(max_accuracy_drop=1.5),
            ValueError,
            r"`max_accuracy_drop` must be a finite number in \[-1, 1\]. "
            "Received: max_accuracy_drop=1.5",
        ),
        (dict(max_accuracy_drop="1%"), TypeError, "`max_accuracy_drop` must be"),
        (
            dict(on_budget_exceeded="raise"),
            ValueError,
            r"`on_budget_exceeded` must be one of \('warn', 'stop'\). "
            "Received: on_budget_exceeded='raise'",
        ),
        (dict(latency_runs=-1), ValueError, "`latency_runs` must be a non-negative"),
        (dict(num_examples=0), ValueError, "Received: num_examples=0"),
        (dict(num_threads=0), ValueError, "Received: num_threads=0"),
        (dict(y=None), ValueError, "`y` is required when `x` is an array"),
        (dict(y=Y[:3]), ValueError, r"len\(x\)=4, len\(y\)=3"),
        (dict(y=Y - 1), ValueError, "`y` must hold class ids in"),
        (dict(x=X[:0], y=Y[:0]), ValueError, "`x` must hold at least one example"),
        (
            dict(quantization="float16"),
            ValueError,
            "`quantization` must be an 'int8' quantization. "
            r"Received: quantization=Quantization\('float16'\)",
        ),
    ],
)
def test_bad_arguments_are_refused(arguments, error, message):
    arguments = {"x": X, "y": Y, **arguments}
    with pytest.raises(error, match=message):
        DeploymentCheck(**arguments)


def test_a_dataset_sample_takes_no_y_and_needs_labels():
    with pytest.raises(ValueError, match="`y` must be None when `x` is a tf.data"):
        DeploymentCheck(tf.data.Dataset.from_tensor_slices((X, Y)).batch(2), Y)
    with pytest.raises(ValueError, match=r"must yield `\(inputs, labels\)` batches"):
        DeploymentCheck(tf.data.Dataset.from_tensor_slices(X).batch(2))
