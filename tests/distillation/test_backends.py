"""The Distiller on every Keras backend: TensorFlow and JAX here.

A Keras backend is chosen before Keras is imported, so each run happens in a
fresh interpreter with `KERAS_BACKEND` set.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

TESTS = pathlib.Path(__file__).resolve().parents[1]

ONE_STEP = textwrap.dedent(
    """
    import json
    import keras
    import numpy as np
    import kdkeras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6)).astype("float32")
    y = rng.integers(0, 4, size=16)


    def model(hidden, activation=None):
        model = keras.Sequential([
            keras.Input((6,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(4, activation=activation),
        ])
        # The same initial weights on every backend (variances positive).
        rng = np.random.default_rng(hidden)
        model.set_weights([
            np.abs(rng.normal(size=w.shape)) + 0.5
            if "variance" in w.path
            else rng.normal(scale=0.3, size=w.shape)
            for w in model.weights
        ])
        return model


    teacher, student = model(32, activation="softmax"), model(8)
    distiller = kdkeras.Distiller(
        teacher, student, augmentation=keras.layers.Rescaling(0.5)
    )
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.1),
        metrics=["accuracy"],
        alpha=0.3,
        temperature=2.0,
    )
    history = distiller.fit(x, y, batch_size=16, shuffle=False, verbose=0).history
    evaluation = distiller.evaluate(x, y, verbose=0, return_dict=True)
    print(json.dumps({
        "backend": keras.backend.backend(),
        "logs": {key: float(values[0]) for key, values in history.items()},
        "evaluation": evaluation,
        "weights": [w.tolist() for w in distiller.student.get_weights()],
        "teacher": [w.tolist() for w in teacher.get_weights()],
    }))
    """
)


def _run(backend, *args):
    environment = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=TESTS.parent,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _one_step(backend):
    return json.loads(_run(backend, "-c", ONE_STEP).strip().splitlines()[-1])


@pytest.mark.tensorflow
def test_one_step_gives_the_same_loss_and_weights_on_tensorflow_and_jax():
    tensorflow, jax = _one_step("tensorflow"), _one_step("jax")
    assert (tensorflow["backend"], jax["backend"]) == ("tensorflow", "jax")
    assert (
        set(tensorflow["logs"])
        == set(jax["logs"])
        == {
            "accuracy",
            "distillation_loss",
            "loss",
            "student_loss",
        }
    )
    for key, value in tensorflow["logs"].items():
        np.testing.assert_allclose(jax["logs"][key], value, rtol=1e-5, err_msg=key)
    assert set(jax["evaluation"]) == {"accuracy", "loss"}
    for key, value in tensorflow["evaluation"].items():
        np.testing.assert_allclose(jax["evaluation"][key], value, rtol=1e-5)
    for got, expected in zip(jax["weights"], tensorflow["weights"], strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    # The teacher is frozen on both.
    for got, expected in zip(jax["teacher"], tensorflow["teacher"], strict=True):
        np.testing.assert_allclose(got, expected, atol=0)


# The tests run again on JAX: those of what computes in the training step
# (the Distiller, its losses, features, schedules, teachers, stored logits).
# Validation errors, diagnostics and the caches' storage are NumPy or
# tf.data code that no backend changes; they run on TensorFlow only. Three
# groups, so pytest-xdist runs them side by side.
JAX_GROUPS = {
    "distiller": ["distillation/test_distiller.py", "distillation/test_outputs.py"],
    "methods": [
        "distillation/test_distiller_methods.py",
        "distillation/test_features.py",
        "distillation/test_stored_features.py",
        "distillation/test_schedules.py",
        "distillation/test_teachers.py",
        "distillation/test_objective.py",
        "caches/test_logit_file.py",
        "caches/test_logit_datasets.py",
        "distillation/test_callbacks.py",
        "distillation/test_serialization.py",
    ],
    "losses": ["losses"],
}


def test_jax_groups_name_existing_test_files():
    for paths in JAX_GROUPS.values():
        for path in paths:
            assert (TESTS / path).exists(), path


@pytest.mark.slow
@pytest.mark.tensorflow
@pytest.mark.parametrize("group", sorted(JAX_GROUPS))
def test_distillation_and_loss_tests_pass_on_jax(group):
    """The Distiller's and the losses' tests, run again on JAX (TF-only ones
    are skipped)."""
    output = _run(
        "jax",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        *(str(TESTS / path) for path in JAX_GROUPS[group]),
    )
    assert " passed" in output and "failed" not in output, output[-2000:]
