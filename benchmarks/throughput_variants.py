"""The variants of benchmarks/throughput.py: its models, pipelines and timer.

Every variant trains the same small CNN (16-32 channels) from the same
initial weights with the same optimizer settings on the embedded
Fashion-MNIST subset, fed as cached, unshuffled `tf.data` pipelines built the
same way (tf.data autotuning off for all; see `with_autotune`). A `Variant`
warms up outside the timings, then times one-epoch `fit` calls with the CPU
time of other processes meanwhile.
"""

import atexit
import shutil
import tempfile
import time

import keras
import tensorflow as tf
from throughput_report import busy_cpu_seconds

import kdkeras

LEARNING_RATE = 1e-3
WARMUP_BATCHES = 5
SEED = 1234
# The datasets are not shuffled (the same order for all variants); `shuffle=False`
# only silences Keras' warning that it cannot shuffle a tf.data.Dataset.
FIT_KWARGS = {"epochs": 1, "verbose": 0, "shuffle": False}


def build_teacher(num_classes=10):
    """A larger CNN (64-128-256 channels) that outputs logits."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(128, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(256, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(num_classes),
        ],
        name="teacher",
    )


def build_student(num_classes=10):
    """A small CNN (16-32 channels) that outputs logits."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(num_classes),
        ],
        name="student",
    )


def make_optimizer():
    return keras.optimizers.Adam(learning_rate=LEARNING_RATE)


def with_autotune(dataset, autotune):
    """`dataset` with tf.data autotuning on or off (the same for every variant).

    With autotuning on (tf.data's default), deleting an epoch's iterator (when
    `fit` returns, or when the next epoch starts) sometimes blocks, with the CPU
    idle, until a moment 10·(2^k − 1) ms after the iterator was made (1.27,
    2.55, 5.11 s, ...), which matches the doubling period of tf.data's
    autotuning thread. That stall (up to 0.5 s of a 0.8 s epoch, 2 s of a 3 s
    one on 2 cores) hits a random subset of the timed epochs and drowns the
    differences between the variants; `--autotune` shows it. The data are
    cached in memory, so autotuning has nothing to tune.
    """
    options = tf.data.Options()
    options.autotune.enabled = autotune
    return dataset.with_options(options)


def make_dataset(x, y, batch_size, autotune=False):
    """The input pipeline of plain and online training."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return with_autotune(dataset, autotune)


def fill_cache(dataset):
    """Reads `dataset` once so its in-memory `.cache()` is full before timing."""
    for _ in dataset:
        pass


def load_data(num_samples):
    (x, y), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    x = (x[:num_samples].astype("float32") / 255.0)[..., None]
    y = y[:num_samples].astype("int32")
    return x, y


def fit_without_nonfinite_check(distiller, *args, **kwargs):
    """`keras.Model.fit` of a Distiller, without its `RaiseOnNonFiniteLoss`."""
    return keras.Model.fit(distiller, *args, **kwargs)


class Variant:
    """A model and its dataset; `run_epoch()` trains one epoch and times it."""

    def __init__(self, name, model, dataset, fit=None):
        self.name = name
        self.model = model
        self.dataset = dataset
        self.fit = fit or type(model).fit
        self.seconds = []
        self.cpu_seconds = []
        self.others_cpu_seconds = []  # CPU time of other processes meanwhile

    def warm_up(self):
        fill_cache(self.dataset)
        self.fit(self.model, self.dataset.take(WARMUP_BATCHES), **FIT_KWARGS)

    def run_epoch(self):
        busy_start = busy_cpu_seconds()
        cpu_start = time.process_time()
        start = time.perf_counter()
        self.fit(self.model, self.dataset, **FIT_KWARGS)
        self.seconds.append(time.perf_counter() - start)
        self.cpu_seconds.append(time.process_time() - cpu_start)
        busy_end = busy_cpu_seconds()
        if busy_start is not None and busy_end is not None:
            others = (busy_end - busy_start) - self.cpu_seconds[-1]
            self.others_cpu_seconds.append(max(0.0, others))


def temporary_directory():
    """A new directory, removed when the script exits."""
    directory = tempfile.mkdtemp(prefix="kdkeras-throughput-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory
