"""Tests of `kdkeras.validation`: the environment checks."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kdkeras import validation
from kdkeras.validation import require_tensorflow_backend

# Every public entry point of kdkeras.export and kdkeras.optimize that needs
# TensorFlow, called under the JAX backend in a fresh interpreter (the
# backend is chosen once per process, when Keras is imported).
_JAX_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import keras
    import numpy as np

    import kdkeras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    data = (np.zeros((8, 4), "float32"), np.zeros(8, "int32"))
    directory = sys.argv[1]
    calls = {
        "kdkeras.export.export_litert": lambda: kdkeras.export.export_litert(
            model, directory + "/m.tflite"
        ),
        "kdkeras.export.save_for_device": lambda: kdkeras.export.save_for_device(
            model, directory, ["a", "b"]
        ),
        "kdkeras.export.add_variant": lambda: kdkeras.export.add_variant(
            model, directory, ["a", "b"], "small", quantization="float16"
        ),
        "kdkeras.optimize.quantize_aware": lambda: (
            kdkeras.optimize.quantize_aware(model, data)
        ),
        "kdkeras.optimize.prune": lambda: kdkeras.optimize.prune(model, data),
        "kdkeras.optimize.to_tf_keras": lambda: kdkeras.optimize.to_tf_keras(model),
        "kdkeras.optimize.save_qat_for_device": lambda: (
            kdkeras.optimize.save_qat_for_device(None, directory, ["a", "b"])
        ),
    }
    messages = {"backend": keras.backend.backend()}
    for name, call in calls.items():
        try:
            call()
        except RuntimeError as error:
            messages[name] = str(error)
    print(json.dumps(messages))
    """
)


def test_export_and_optimize_name_the_backend_they_need(tmp_path):
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    environment.pop("TF_USE_LEGACY_KERAS", None)
    completed = subprocess.run(
        [sys.executable, "-c", _JAX_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    messages = json.loads(completed.stdout.strip().splitlines()[-1])
    assert messages.pop("backend") == "jax"
    assert len(messages) == 7
    for name, message in messages.items():
        assert message.startswith(f"`{name}` needs the TensorFlow backend of Keras")
        assert "keras.backend.backend()='jax'" in message
        assert "KERAS_BACKEND=tensorflow" in message
    assert os.listdir(tmp_path) == []


def test_tensorflow_backend_passes():
    require_tensorflow_backend("kdkeras.export.export_litert")


def test_other_backend_is_refused(monkeypatch):
    monkeypatch.setattr("keras.backend.backend", lambda: "torch")
    with pytest.raises(RuntimeError, match="backend.backend\\(\\)='torch'"):
        require_tensorflow_backend("kdkeras.optimize.prune")


@pytest.mark.parametrize("value", [0, 3, np.int64(2)])
def test_check_count_accepts_non_negative_integers(value):
    assert validation.check_count(value, "warmup") == int(value)
    assert validation.is_count(value)


@pytest.mark.parametrize("value", [-1, 1.0, True, "2", None])
def test_check_count_names_the_argument(value):
    with pytest.raises(ValueError, match=r"`warmup` must be a non-negative integer"):
        validation.check_count(value, "warmup")


def test_check_count_with_none_and_meaning():
    assert validation.check_count(None, "parameters", allow_none=True) is None
    with pytest.raises(
        ValueError,
        match=r"non-negative integer \(0 skips the latency\)\. Received: runs=-2",
    ):
        validation.check_count(-2, "runs", meaning="0 skips the latency")
