"""Fixtures shared by the tests of the caches."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kdkeras


@pytest.fixture
def images():
    """40 random 8×8 grayscale images and labels of 4 classes."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (40, 8, 8, 1)).astype("uint8")
    y = rng.integers(0, 4, 40)
    return x, y


def _assert_logits_are_the_teachers(teacher, batches):
    for batch_views, (batch_labels, batch_logits) in batches:
        recomputed = keras.ops.convert_to_numpy(teacher(batch_views, training=False))
        np.testing.assert_allclose(batch_logits, recomputed, atol=1e-5, rtol=1e-5)
        assert batch_labels.shape == (len(batch_views), 4)


@pytest.fixture(scope="session")
def assert_logits_are_the_teachers():
    """`assert_logits_are_the_teachers(teacher, batches)`: each batch
    `(views, (labels, logits))` of a view cache holds the teacher's logits of
    its views (within 1e-5) and a row of 4 class probabilities per view."""
    return _assert_logits_are_the_teachers


class _BatchesPerEpoch(keras.callbacks.Callback):
    """Counts the training batches of each epoch."""

    def __init__(self):
        super().__init__()
        self.counts = []

    def on_epoch_begin(self, epoch, logs=None):
        self.counts.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.counts[-1] += 1


def _sorted_rows(rows):
    return rows[np.lexsort(rows.T[::-1])]


def _assert_student_trains_on_views(student, cache, x, y, alpha):
    import tensorflow as tf

    batch_size = 16
    steps = cache.steps_per_epoch(len(x), batch_size)
    # The stored logits of each epoch, in image order: `(epochs, N, classes)`.
    batches = cache.dataset(x, y, batch_size=batch_size, shuffle=False)
    stored = np.concatenate([t[1] for _, t in batches.as_numpy_iterator()])
    stored = stored.reshape(cache.epochs, len(x), -1)
    assert len({_sorted_rows(e).tobytes() for e in stored}) == cache.epochs

    seen = []  # the teacher logits of each batch, as `fit` draws them

    def record(logits):
        seen.append(logits.numpy())
        return logits

    def recorded(views, targets):
        labels, logits = targets
        logits = tf.py_function(record, [logits], logits.dtype)
        logits.set_shape(targets[1].shape)
        return views, (labels, logits)

    epochs = 2 * cache.epochs  # every stored epoch replayed twice
    distiller = kdkeras.Distiller(teacher=None, student=student)
    distiller.compile(optimizer="adam", alpha=alpha)
    counter = _BatchesPerEpoch()
    history = distiller.fit(
        cache.dataset(x, y, batch_size=batch_size).map(recorded),
        epochs=epochs,
        steps_per_epoch=steps,
        callbacks=[counter],
        verbose=0,
    )
    losses = history.history["loss"]
    assert len(losses) == epochs and np.isfinite(losses).all()
    assert losses[-1] < losses[0]  # the student learns from the stored logits
    assert counter.counts == [steps] * epochs
    # Training epoch k is stored epoch k mod E: its batches hold the logits
    # of that epoch's views, each image's once.
    assert len(seen) >= steps * epochs
    for epoch in range(epochs):
        drawn = np.concatenate(seen[epoch * steps : (epoch + 1) * steps])
        np.testing.assert_allclose(
            _sorted_rows(drawn), _sorted_rows(stored[epoch % cache.epochs]), atol=1e-6
        )


@pytest.fixture(scope="session")
def assert_student_trains_on_views():
    """`assert_student_trains_on_views(student, cache, x, y, alpha)`: an
    offline Distiller trains `student` on the cache's views of `x` in batches
    of 16 for twice the stored epochs; every loss is finite, the last below
    the first, each epoch has the cache's steps, and training epoch k draws
    the stored logits of epoch k mod E, each image's once."""
    return _assert_student_trains_on_views


MEMORY_PROLOGUE = """
def rss_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])

def reset_peak_memory():
    \"\"\"Resets VmHWM, the peak resident memory, to VmRSS; returns VmRSS.\"\"\"
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return rss_kb("VmRSS")
"""


@pytest.fixture
def run_memory_script(tmp_path):
    """`run_memory_script(source, *arguments)`: runs `source` (which may call
    `rss_kb(field)` and `reset_peak_memory()`) in a new Python process and
    returns the JSON object of its last line of output."""

    def run(source, *arguments):
        script = tmp_path / "memory_script.py"
        script.write_text(MEMORY_PROLOGUE + textwrap.dedent(source))
        result = subprocess.run(
            [sys.executable, str(script), *map(str, arguments)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


def _view_teacher(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dense(4),
        ]
    )


@pytest.fixture(scope="session")
def view_teacher():
    """`view_teacher(seed=0)`: a small 4-class CNN of `images`; its batch
    normalization tells the inference mode the caches use from training."""
    return _view_teacher
