"""The models, data and training of benchmarks/hinton_mnist.py.

Hinton, Vinyals & Dean (2015), section 3 (arXiv:1503.02531): the teacher
784-1200-1200-10 with dropout on its inputs and hidden units, trained on
jittered images; the student 784-800-800-10 without regularization, trained
from the labels alone or distilled offline from the teacher's stored logits,
both from the same initial weights, optimizer and batch order.
"""

import os

import keras
import numpy as np
import tensorflow as tf

import kdkeras
from kdkeras import io_utils
from kdkeras.models import build_mlp

NUM_VALIDATION_IMAGES = 5000
TEACHER_HIDDEN_UNITS = (1200, 1200)
STUDENT_HIDDEN_UNITS = (800, 800)
JITTER_PIXELS = 2
TEACHER_LEARNING_RATE = 1e-3


def load_data(path):
    """`(train, validation, test)` pairs of `uint8` images `(N, 28, 28, 1)`.

    Raises:
        SystemExit: With the loader's advice when MNIST is neither in `path`
            (or `$KDKERAS_MNIST_DIR`) nor downloadable.
    """
    # A folder given explicitly must hold the data: no silent download.
    source = "auto" if path is None else "local"
    try:
        (x_train, y_train), (x_test, y_test) = kdkeras.datasets.load_mnist(
            path=path, source=source
        )
    except FileNotFoundError as error:  # kdkeras' DatasetNotFoundError
        raise SystemExit(f"hinton_mnist.py: MNIST not found.\n{error}") from None
    x_train, x_test = x_train[..., None], x_test[..., None]
    num_validation = min(NUM_VALIDATION_IMAGES, len(x_train) // 10)
    train = (x_train[:-num_validation], y_train[:-num_validation])
    validation = (x_train[-num_validation:], y_train[-num_validation:])
    return train, validation, (x_test, y_test)


def build_teacher(dropout, input_dropout):
    """The paper's teacher: 784-1200-1200-10, dropout on inputs and units.

    Spelled out layer by layer because `build_mlp` has no dropout on its
    inputs.
    """
    inputs = keras.Input((28, 28, 1), name="inputs")
    x = keras.layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
    for index, units in enumerate(TEACHER_HIDDEN_UNITS, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{index}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
    logits = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, logits, name="teacher")


def build_student(name):
    """The paper's small net: 784-800-800-10, no regularization."""
    return build_mlp(
        hidden_units=STUDENT_HIDDEN_UNITS, input_shape=(28, 28, 1), name=name
    )


def random_jitter():
    """Random shifts of up to `JITTER_PIXELS` pixels, active in training only."""
    factor = JITTER_PIXELS / 28
    return keras.layers.RandomTranslation(
        factor, factor, fill_mode="constant", interpolation="nearest", name="jitter"
    )


def cosine_decay_adam(learning_rate, epochs, num_samples, batch_size):
    """Adam whose learning rate decays to zero along a cosine over `epochs`."""
    steps = epochs * -(-num_samples // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    return keras.optimizers.Adam(schedule)


def student_optimizer(args, num_samples):
    """The same optimizer settings for the scratch and distilled students."""
    return cosine_decay_adam(
        args.learning_rate, args.epochs, num_samples, args.batch_size
    )


def labels_dataset(x, y, batch_size, seed):
    """Batches of `(x, y)` built as `kdkeras.caches.offline_dataset` builds its.

    With the same seed, the scratch and the distilled student see the
    training images in the same order. Autotuning is off as there (the data
    sit in memory; benchmarks/README.md, "Why tf.data autotuning is off").
    """
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.batch(batch_size).prefetch(2).with_options(options)


def train_teacher(train, args):
    """The teacher, trained on jittered images or loaded from its cache."""
    keras.utils.set_random_seed(args.seed)
    teacher = build_teacher(args.dropout, args.input_dropout)
    if args.teacher_weights and os.path.exists(args.teacher_weights):
        print(f"Teacher: weights from {args.teacher_weights}")
        teacher.load_weights(args.teacher_weights)
        return teacher
    # The jitter wraps the teacher only while training: its logits for the
    # students are those of the original images.
    trainer = keras.Sequential([keras.Input((28, 28, 1)), random_jitter(), teacher])
    trainer.compile(
        optimizer=cosine_decay_adam(
            TEACHER_LEARNING_RATE, args.teacher_epochs, len(train[0]), args.batch_size
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    dataset = labels_dataset(*train, args.batch_size, args.seed)
    trainer.fit(dataset, epochs=args.teacher_epochs, verbose=2)
    if args.teacher_weights:
        with io_utils.atomic_path(args.teacher_weights) as temporary_path:
            teacher.save_weights(temporary_path)
    return teacher


def best_epoch_options(args, validation):
    """`fit` arguments of `--select-best`: score the student on the
    validation split after every epoch and end with the weights of its best
    epoch (Keras' `EarlyStopping(restore_best_weights=True)` with a patience
    of all the epochs, so training never stops early); nothing without it."""
    if not args.select_best:
        return {}
    best = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        patience=args.epochs,
        restore_best_weights=True,
    )
    return dict(validation_data=validation, callbacks=[best])


def best_epoch(history):
    """The 1-based epoch of the best validation accuracy, or `None`."""
    curve = history.history.get("val_accuracy")
    return None if not curve else 1 + int(np.argmax(curve))


def train_scratch(initial_weights, train, args, validation=None):
    """The student trained on the labels alone."""
    keras.utils.set_random_seed(args.seed)
    student = build_student("student_scratch")
    student.set_weights(initial_weights)
    student.compile(
        optimizer=student_optimizer(args, len(train[0])),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    dataset = labels_dataset(*train, args.batch_size, args.seed)
    return fit_student(student, student, dataset, args, validation)


def train_distilled(
    initial_weights, train, teacher_logits, alpha, args, validation=None
):
    """The student distilled from stored teacher logits at `args.temperature`."""
    keras.utils.set_random_seed(args.seed)
    student = build_student("student_distilled")
    student.set_weights(initial_weights)
    distiller = kdkeras.Distiller(teacher=None, student=student)
    distiller.compile(
        optimizer=student_optimizer(args, len(train[0])),
        metrics=["accuracy"],
        alpha=alpha,
        temperature=args.temperature,
    )
    dataset = kdkeras.caches.offline_dataset(
        *train, teacher_logits, batch_size=args.batch_size, seed=args.seed
    )
    return fit_student(distiller, student, dataset, args, validation)


def fit_student(trainer, student, dataset, args, validation):
    """Fits `trainer` (the student, or its Distiller) the same way for both
    students; returns `student`, its `best_epoch` set."""
    history = trainer.fit(
        dataset,
        epochs=args.epochs,
        verbose=2,
        **best_epoch_options(args, validation),
    )
    student.best_epoch = best_epoch(history)
    return student
