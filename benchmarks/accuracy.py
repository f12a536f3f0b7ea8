"""Accuracy on the full Fashion-MNIST: teacher, scratch and distilled student.

Runs the recipe of `make demo` (examples/demo.py) on the full data set: 55,000
training images (the last 5,000 of the official 60,000 are the validation
set) and the official 10,000 test images, from the Debian package
`dataset-fashion-mnist` or a Keras download.

1. Teacher (`--teacher mobilenet`): the demo's MobileNetV2 (width 0.35, 48×48
   RGB view) with the project's pretrained backbone, a new head, fine-tuned
   in two stages. `--teacher cnn`: a wider CNN, `build_cnn(filters=(64, 128,
   256), dense_units=256, dropout=0.3)` (439k parameters), trained here with
   random flips and shifts: stronger on the full data, where the MobileNetV2
   is no better than the 9k student.
2. For each seed, the student (`--student cnn`: the demo's 9k-parameter CNN;
   `mlp`: a 25k-parameter MLP) from the same initial weights, trained for the
   same epochs: from the labels alone ("scratch"), and with
   `kdkeras.Distiller` (`--distillation offline`: on teacher logits computed
   once, which without augmentation is the same objective as an online
   teacher at a fraction of the cost; `online`: both students see random
   flips and shifts, and the Distiller runs the teacher on each augmented
   batch, the "consistent teaching" of Beyer et al., 2022).
3. Prints each model's test scores, the mean over seeds, and the fraction of
   the scratch-to-teacher gap that distillation closes:
   `(distilled - scratch) / (teacher - scratch)`.

    python benchmarks/accuracy.py                  # ~10 minutes on 2 CPU cores
    python benchmarks/accuracy.py --student mlp
    python benchmarks/accuracy.py --data embedded  # the demo's data, 3 seeds
    python benchmarks/accuracy.py --teacher cnn    # ~31 minutes
    python benchmarks/accuracy.py --teacher cnn --distillation online \
        --teacher-cache /tmp/cnn_teacher.weights.h5
    python benchmarks/accuracy.py --quick    # smoke test on 2,000 images
"""

import argparse
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "examples"))

import demo  # noqa: E402  (examples/demo.py: the recipe under test)
import keras  # noqa: E402
from result_files import command_line, write_result  # noqa: E402

import kdkeras  # noqa: E402
from kdkeras import evaluation, io_utils  # noqa: E402
from kdkeras.models import build_mlp  # noqa: E402

NUM_VALIDATION_IMAGES = 5000
CNN_TEACHER_ARCHITECTURE = dict(filters=(64, 128, 256), dense_units=256, dropout=0.3)
CNN_TEACHER_LEARNING_RATE = 2e-3
DEFAULT_TEACHER_EPOCHS = {"mobilenet": 1, "cnn": 12}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337, 1, 2])
    parser.add_argument(
        "--student",
        choices=("cnn", "mlp"),
        default="cnn",
        help="cnn: the demo's 9k-parameter CNN; mlp: one hidden layer of 32.",
    )
    parser.add_argument("--epochs", type=int, default=15, help="Student epochs.")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--teacher",
        choices=("mobilenet", "cnn"),
        default="mobilenet",
        help="mobilenet: the demo's MobileNetV2; cnn: a wider CNN trained here.",
    )
    parser.add_argument(
        "--teacher-cache",
        default=None,
        help="A .weights.h5 file: the CNN teacher's weights are loaded from it "
        "when it exists, else saved to it after training.",
    )
    parser.add_argument(
        "--distillation",
        choices=("offline", "online"),
        default="offline",
        help="offline: cached teacher logits, no augmentation; online: the "
        "teacher on each augmented batch, and the scratch student on the "
        "same augmentation.",
    )
    parser.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help="MobileNetV2: epochs of each fine-tuning stage (default 1); "
        "cnn: epochs (default 12).",
    )
    parser.add_argument(
        "--teacher-weights",
        type=demo.teacher_weights,
        default=demo.PRETRAINED_BACKBONE,
        help="Backbone weights of the teacher, or 'none'.",
    )
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument(
        "--data",
        choices=("full", "embedded"),
        default="full",
        help="full: 55k/5k/10k; embedded: the demo's 9k/1k/2k subset.",
    )
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST folder.")
    parser.add_argument(
        "--result",
        default=None,
        help="Result file the runs are added to (default: "
        "benchmarks/results/accuracy.json; --quick writes none).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="2,000 images, 1 epoch, 1 seed."
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.teacher_epochs = args.seeds[:1], 1, 1
    if args.teacher_epochs is None:
        args.teacher_epochs = DEFAULT_TEACHER_EPOCHS[args.teacher]
    return args


def load_data(source, path, quick):
    """`(train, validation, test)`; the demo's split for `source="embedded"`."""
    if source == "embedded":
        return demo.load_data(demo.QUICK_NUM_TRAIN_IMAGES if quick else None)
    (x_train, y_train), (x_test, y_test) = kdkeras.datasets.load_fashion_mnist(
        path=path
    )
    x_train, x_test = x_train[..., None], x_test[..., None]
    if quick:
        x_train, y_train, x_test, y_test = (
            x_train[:2000],
            y_train[:2000],
            x_test[:1000],
            y_test[:1000],
        )
    num_validation = min(NUM_VALIDATION_IMAGES, len(x_train) // 5)
    train = (x_train[:-num_validation], y_train[:-num_validation])
    validation = (x_train[-num_validation:], y_train[-num_validation:])
    return train, validation, (x_test, y_test)


def train_teacher(train, validation, args):
    """The teacher of `--teacher`, as a model of the student's input."""
    if args.teacher == "mobilenet":
        teacher = demo.fine_tune_teacher(
            train,
            validation,
            args.teacher_weights,
            args.teacher_epochs,
            args.batch_size,
            seed=0,
        )
        return demo.with_view(teacher, demo.build_teacher_view(), train[0].shape[1:])
    keras.utils.set_random_seed(0)
    teacher = kdkeras.models.build_cnn(name="teacher", **CNN_TEACHER_ARCHITECTURE)
    if args.teacher_cache and os.path.exists(args.teacher_cache):
        print(f"Teacher: CNN weights from {args.teacher_cache}")
        teacher.load_weights(args.teacher_cache)
        return teacher
    # Augmentation only while training: the teacher's logits on its own
    # training images are then less over-confident.
    fit_on_labels(
        teacher,
        train,
        validation,
        CNN_TEACHER_LEARNING_RATE,
        args.teacher_epochs,
        args.batch_size,
    )
    if args.teacher_cache:
        with io_utils.atomic_path(args.teacher_cache) as temporary_path:
            teacher.save_weights(temporary_path)
    return teacher


def augmentation():
    """Random horizontal flips and shifts of up to 10%, active in training."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal"),
            keras.layers.RandomTranslation(0.1, 0.1),
        ]
    )


def fit_on_labels(
    model, train, validation, learning_rate, epochs, batch_size, augment=True
):
    """Fits `model` on the labels (on augmented inputs if `augment`)."""
    fitted = model
    if augment:
        inputs = keras.Input(train[0].shape[1:])
        fitted = keras.Sequential([inputs, augmentation(), model])
    demo.compile_and_fit(
        fitted,
        train,
        validation,
        learning_rate,
        epochs,
        batch_size,
        loss=demo.LABEL_LOSS,
    )
    return model


def build_student(kind, name, seed):
    """The student, with the same initial weights for the same `seed`."""
    if kind == "cnn":
        return demo.build_student(name, seed)
    keras.utils.set_random_seed(seed + 1)
    return build_mlp(hidden_units=(32,), name=name)


def train_from_scratch(train, validation, args, seed):
    """The student trained on the labels alone (augmented in online mode)."""
    return fit_on_labels(
        build_student(args.student, "student_scratch", seed),
        train,
        validation,
        demo.STUDENT_LEARNING_RATE,
        args.epochs,
        args.batch_size,
        augment=args.distillation == "online",
    )


def distill_online(teacher, train, validation, args, seed):
    """The student distilled from the teacher run on each augmented batch."""
    distiller = kdkeras.Distiller(
        teacher=teacher,
        student=build_student(args.student, "student_distilled", seed),
        augmentation=augmentation(),
    )
    demo.compile_and_fit(
        distiller,
        train,
        validation,
        demo.STUDENT_LEARNING_RATE,
        args.epochs,
        args.batch_size,
        alpha=args.alpha,
        temperature=args.temperature,
    )
    return distiller.student


def distill_offline(teacher_logits, train, validation, args, seed):
    """The student distilled from logits computed once (`teacher=None`)."""
    distiller = kdkeras.Distiller(
        teacher=None, student=build_student(args.student, "student_distilled", seed)
    )
    distiller.compile(
        optimizer=demo.adam_with_cosine_decay(
            demo.STUDENT_LEARNING_RATE, args.epochs, args.batch_size, len(train[0])
        ),
        metrics=["accuracy"],
        alpha=args.alpha,
        temperature=args.temperature,
    )
    dataset = kdkeras.caches.offline_dataset(
        *train, teacher_logits, batch_size=args.batch_size, seed=seed
    )
    distiller.fit(dataset, validation_data=validation, epochs=args.epochs, verbose=2)
    return distiller.student


def summarize(rows_by_seed):
    """Mean ± standard deviation of the test accuracies, and the gap closed."""
    names = [row["name"] for row in rows_by_seed[0]]
    accuracies = {
        name: [rows[i]["accuracy"] for rows in rows_by_seed]
        for i, name in enumerate(names)
    }
    lines = [
        "| model | test accuracy (mean ± sd over seeds) | per seed |",
        "|---|---|---|",
    ]
    for name, values in accuracies.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        per_seed = ", ".join(f"{value:.4f}" for value in values)
        lines.append(
            f"| {name} | {statistics.mean(values):.4f} ± {spread:.4f} | {per_seed} |"
        )
    lines.append(f"| gap closed by distillation | {gap_closed(accuracies)} | |")
    return "\n".join(lines)


def gap_closed(accuracies):
    """`(distilled − scratch) / (teacher − scratch)` of the mean accuracies.

    From the means, not per seed: a seed whose student nearly matches the
    teacher would divide by almost zero.
    """
    teacher, scratch, distilled = (statistics.mean(v) for v in accuracies.values())
    if teacher - scratch < 0.001:
        return (
            f"n/a: the student alone reaches the teacher ({scratch:.4f} vs "
            f"{teacher:.4f}); distillation changes it by {distilled - scratch:+.4f}"
        )
    return f"{(distilled - scratch) / (teacher - scratch):.0%}"


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    train, validation, test = load_data(args.data, args.data_path, args.quick)
    print(
        f"Fashion-MNIST: {len(train[0])} training, {len(validation[0])} "
        f"validation and {len(test[0])} test images."
    )
    teacher = train_teacher(train, validation, args)
    teacher_logits = (
        kdkeras.caches.compute_teacher_logits(teacher, train[0])
        if args.distillation == "offline"
        else None
    )

    rows_by_seed, runs = [], []
    for seed in args.seeds:
        print(f"\nSeed {seed}: student from scratch, then distilled...")
        scratch = train_from_scratch(train, validation, args, seed)
        if args.distillation == "online":
            distilled = distill_online(teacher, train, validation, args, seed)
        else:
            distilled = distill_offline(teacher_logits, train, validation, args, seed)
        rows = evaluation.compare_models(
            {
                "teacher": teacher,
                "student (scratch)": scratch,
                "student (distilled)": distilled,
            },
            *test,
        )
        print(evaluation.format_table(rows))
        rows_by_seed.append(rows)
        runs.append(
            dict(
                data=args.data,
                student=args.student,
                teacher=args.teacher,
                distillation=args.distillation,
                epochs=args.epochs,
                alpha=args.alpha,
                temperature=args.temperature,
                seed=seed,
                test_accuracy={row["name"]: row["accuracy"] for row in rows},
            )
        )

    print(
        f"\nFashion-MNIST ({args.data}), {len(test[0])} test images, {args.teacher} "
        f"teacher ({args.teacher_epochs} epochs), {args.student} "
        f"student, {args.distillation} distillation, {args.epochs} epochs, "
        f"alpha={args.alpha}, T={args.temperature}, "
        f"seeds {args.seeds} ({time.perf_counter() - start:.0f} s):\n"
    )
    print(summarize(rows_by_seed))
    if args.result or not args.quick:
        write_result(
            "accuracy",
            args.result,
            merge_on=(
                "data",
                "student",
                "teacher",
                "distillation",
                "alpha",
                "temperature",
                "seed",
            ),
            command=command_line(__file__, argv),
            seeds=args.seeds,
            seconds=round(time.perf_counter() - start),
            runs=runs,
        )


if __name__ == "__main__":
    main()
