"""The Distiller under `tf.distribute.MirroredStrategy` on two logical CPUs.

Logical devices must be set before TensorFlow starts, so the runs happen in a
fresh interpreter.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np
    import kdkeras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.integers(0, 4, size=64)


    def model(seed, hidden):
        keras.utils.set_random_seed(seed)
        return keras.Sequential([
            keras.Input((6,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(4),
        ])


    def run(strategy):
        with strategy.scope():
            distiller = kdkeras.Distiller(model(1, 32), model(2, 8))
            distiller.compile(
                optimizer=keras.optimizers.SGD(0.1),
                metrics=["accuracy"],
                alpha=kdkeras.distillation.schedules.Linear(0.6, 0.1, steps=4),
                temperature=2.0,
            )
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        first = distiller.fit(dataset.take(1), epochs=1, verbose=0).history
        epoch = distiller.fit(dataset, epochs=1, verbose=0).history
        evaluation = distiller.evaluate(dataset, verbose=0, return_dict=True)
        return {
            "replicas": strategy.num_replicas_in_sync,
            "first_step": {key: value[0] for key, value in first.items()},
            "epoch": {key: value[0] for key, value in epoch.items()},
            "evaluation": evaluation,
            "weights": [w.tolist() for w in distiller.student.get_weights()],
        }


    print(json.dumps({
        "single": run(tf.distribute.OneDeviceStrategy("/cpu:0")),
        "mirrored": run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
    }))
    """
)


@pytest.mark.tensorflow
def test_mirrored_loss_equals_single_device_loss():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    single, mirrored = results["single"], results["mirrored"]
    assert mirrored["replicas"] == 2
    # The scheduled alpha is counted once per step, not once per replica.
    np.testing.assert_allclose(mirrored["first_step"]["alpha"], 0.6, rtol=1e-6)
    for phase in ("first_step", "epoch", "evaluation"):
        assert set(single[phase]) == set(mirrored[phase])
        for key, value in single[phase].items():
            np.testing.assert_allclose(
                mirrored[phase][key], value, atol=1e-5, err_msg=f"{phase}/{key}"
            )
    for single_weight, mirrored_weight in zip(
        single["weights"], mirrored["weights"], strict=True
    ):
        np.testing.assert_allclose(mirrored_weight, single_weight, atol=1e-5)
