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


def _assert_student_trains_on_views(student, cache, x, y, alpha):
    distiller = kdkeras.Distiller(teacher=None, student=student)
    distiller.compile(optimizer="adam", alpha=alpha)
    history = distiller.fit(
        cache.dataset(x, y, batch_size=16),
        epochs=4,
        steps_per_epoch=cache.steps_per_epoch(len(x), 16),
        verbose=0,
    )
    assert len(history.history["loss"]) == 4
    assert np.isfinite(history.history["loss"]).all()


@pytest.fixture(scope="session")
def assert_student_trains_on_views():
    """`assert_student_trains_on_views(student, cache, x, y, alpha)`: an
    offline Distiller trains `student` on the cache's views of `x` in batches
    of 16 for 4 epochs of the cache's steps, every loss finite."""
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
