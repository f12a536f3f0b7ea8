"""One distillation run for `test_multi_worker.py`: a worker, or the reference.

Every worker runs this same program with its own `TF_CONFIG`, which makes the
strategy a `tf.distribute.MultiWorkerMirroredStrategy` over the workers.
Without `TF_CONFIG` the same code runs in one process with no strategy: the
single-process reference.

    python multi_worker_run.py equality OUT CACHE FINGERPRINT
    python multi_worker_run.py resume OUT BACKUP PAUSE_AFTER_EPOCH

`equality` distills online (a teacher model) and offline (the teacher logits
cached at CACHE) for two epochs and writes `OUT/<task>.json`: the logs, the
evaluation and the student's weights, and which examples this worker got of
each global batch. `resume` distills online for four epochs with
`keras.callbacks.BackupAndRestore(BACKUP/worker-<task>)`, appends
`epoch loss` to `OUT/<task>.progress` after each finished epoch (after the
backup), makes the chief (task 0) sleep after epoch PAUSE_AFTER_EPOCH (-1:
never) so the test can kill the workers there, and writes the final student
weights to `OUT/<task>.npz`. `<task>` is the worker's index, or `single`.
Each worker first creates `OUT/<task>.started`. The test imports this module
to run the reference in its own process.
"""

import json
import os
import sys
import time

import tensorflow as tf

# A multi-worker strategy must exist before TensorFlow runs any op.
if "TF_CONFIG" in os.environ:
    STRATEGY = tf.distribute.MultiWorkerMirroredStrategy()
    TASK = str(json.loads(os.environ["TF_CONFIG"])["task"]["index"])
else:
    STRATEGY = tf.distribute.get_strategy()
    TASK = "single"

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kdkeras  # noqa: E402
from kdkeras import caches
from kdkeras.datasets import load_embedded_fashion_mnist  # noqa: E402
from kdkeras.distillation import schedules  # noqa: E402
from kdkeras.models import build_cnn  # noqa: E402

GLOBAL_BATCH_SIZE = 64
NUM_EXAMPLES = 256


def data():
    """256 real Fashion-MNIST images (uint8, 28×28×1) and their labels."""
    (x, y), _ = load_embedded_fashion_mnist()
    return x[:NUM_EXAMPLES, ..., None], y[:NUM_EXAMPLES].astype("int32")


def teacher():
    keras.utils.set_random_seed(1)
    return build_cnn(filters=(8, 16), dense_units=16, name="teacher")


def student(seed):
    """A `build_cnn` student whose BatchNormalization is synchronized.

    Plain BatchNormalization normalizes with each replica's own batch
    statistics; synchronized, with the global batch's, as one process does.
    """
    keras.utils.set_random_seed(seed)
    model = build_cnn(filters=(4, 8), dense_units=None, pooling="flatten")

    def synchronized(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            config["synchronized"] = True
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(model, clone_function=synchronized)
    clone.set_weights(model.get_weights())
    return clone


def compiled(distiller, optimizer, steps):
    distiller.compile(
        optimizer=optimizer,
        metrics=["accuracy"],
        alpha=schedules.Linear(0.9, 0.1, steps=steps),
        temperature=2.0,
    )
    return distiller


def local_ids(dataset, epochs):
    """The example ids this worker gets, per epoch and global batch."""
    distributed = STRATEGY.experimental_distribute_dataset(dataset)
    return [
        [
            np.concatenate(
                [np.asarray(t) for t in STRATEGY.experimental_local_results(batch)]
            ).tolist()
            for batch in distributed
        ]
        for _ in range(epochs)
    ]


def summary(distiller, history):
    return {
        "history": history.history,
        "weights": [w.tolist() for w in distiller.student.get_weights()],
    }


def equality(out, cache, fingerprint):
    x, y = data()
    ids = tf.data.Dataset.range(NUM_EXAMPLES)
    results = {
        "replicas": STRATEGY.num_replicas_in_sync,
        "ids": local_ids(ids.batch(GLOBAL_BATCH_SIZE), epochs=1),
        "shuffled_ids": local_ids(
            ids.shuffle(NUM_EXAMPLES, seed=0).batch(GLOBAL_BATCH_SIZE), epochs=2
        ),
    }
    with STRATEGY.scope():
        online = compiled(
            kdkeras.Distiller(teacher=teacher(), student=student(2)),
            keras.optimizers.Adam(3e-3),
            steps=8,
        )
    # NumPy arrays: Keras' adapter sets the DATA sharding policy.
    history = online.fit(
        x, y, batch_size=GLOBAL_BATCH_SIZE, epochs=2, shuffle=False, verbose=0
    )
    results["online"] = summary(online, history)
    results["online"]["evaluation"] = online.evaluate(
        x, y, batch_size=GLOBAL_BATCH_SIZE, return_dict=True, verbose=0
    )

    logits = caches.load_teacher_logits(cache, x, teacher_fingerprint=fingerprint)
    # No file source, so AUTO sharding falls back to DATA.
    dataset = caches.offline_dataset(
        x, y, logits, batch_size=GLOBAL_BATCH_SIZE, shuffle=False
    )
    with STRATEGY.scope():
        stored = compiled(
            kdkeras.Distiller(teacher=None, student=student(3)),
            keras.optimizers.Adam(3e-3),
            steps=8,
        )
    results["offline"] = summary(stored, stored.fit(dataset, epochs=2, verbose=0))
    with open(os.path.join(out, f"{TASK}.json"), "w") as file:
        json.dump(results, file)


class Progress(keras.callbacks.Callback):
    """Appends `epoch loss` after each epoch (after BackupAndRestore's backup)."""

    def __init__(self, path, pause_after):
        super().__init__()
        self.path, self.pause_after = path, pause_after

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a") as file:
            file.write(f"{epoch} {logs['loss']!r}\n")
            file.flush()
            os.fsync(file.fileno())
        if epoch == self.pause_after and TASK == "0":
            # The other worker goes on into the next epoch and waits for the
            # chief inside its first step; the test kills both.
            time.sleep(600)


def resume(out, backup, pause_after):
    x, y = data()
    with STRATEGY.scope():
        # The step of alpha's schedule and Adam's moments must be restored too.
        distiller = compiled(
            kdkeras.Distiller(teacher=teacher(), student=student(2)),
            keras.optimizers.Adam(3e-3),
            steps=16,
        )
    distiller.fit(
        x,
        y,
        batch_size=GLOBAL_BATCH_SIZE,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[
            # Every worker writes its backup: one folder each.
            keras.callbacks.BackupAndRestore(os.path.join(backup, f"worker-{TASK}")),
            Progress(os.path.join(out, f"{TASK}.progress"), int(pause_after)),
        ],
    )
    np.savez(os.path.join(out, f"{TASK}.npz"), *distiller.student.get_weights())


if __name__ == "__main__":
    mode, out, *arguments = sys.argv[1:]
    # The strategy's server listens now: the test stops watching for a port
    # clash.
    open(os.path.join(out, f"{TASK}.started"), "w").close()
    {"equality": equality, "resume": resume}[mode](out, *arguments)
