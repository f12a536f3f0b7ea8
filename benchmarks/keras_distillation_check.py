"""Cross-check: kdkeras' KD against Keras' own `keras.distillation`, same setup.

Checks that, on one setup, `keras.distillation.Distiller` with
`LogitsDistillation(temperature=T, loss=keras.losses.KLDivergence())` (the
instance, with which Keras applies the softmax and the T² factor; its default
string `"kl_divergence"` does neither) gives the same result as
`kdkeras.Distiller` within seed noise. Both train the same student from the
same initial weights, with the same optimizer, batches, epochs, `alpha`
(Keras: `student_loss_weight`) and `T`:

* kdkeras: offline, from the teacher's logits computed once
  (`kdkeras.caches`); without augmentation the teacher's logits of an image
  do not change, so this is the same objective as an online teacher;
* Keras: online, the teacher run on every batch.

Data: the embedded Fashion-MNIST subset (9,000 training images, the last
1,000 held out, 2,000 test images): Keras' online teacher makes the full
data set an hour's run on 2 cores. Teacher: the project's ResNet
(`tools/train_teacher.py`).

    python benchmarks/keras_distillation_check.py            # ~10 min
    python benchmarks/keras_distillation_check.py --quick
"""

import argparse
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
sys.path.insert(0, os.path.join(REPO_ROOT, "benchmarks"))

import keras  # noqa: E402
import method_training as training  # noqa: E402
import numpy as np  # noqa: E402
from result_files import command_line, write_result  # noqa: E402
from teacher_models import load_pretrained_teacher  # noqa: E402

import kdkeras  # noqa: E402
from kdkeras import batches, caches  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--student", choices=sorted(training.STUDENTS), default="cnn9k")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--quick", action="store_true", help="1,000 images, 1 epoch")
    parser.add_argument(
        "--result",
        default=None,
        help="result file (default benchmarks/results/keras_distillation_check"
        ".json; --quick writes none)",
    )
    return parser.parse_args(argv)


def load_embedded(quick):
    (x_train, y_train), (x_test, y_test) = (
        kdkeras.datasets.load_embedded_fashion_mnist()
    )
    x_train, x_test = x_train[..., None], x_test[..., None]
    if quick:
        x_train, y_train, x_test, y_test = (
            x_train[:1000],
            y_train[:1000],
            x_test[:500],
            y_test[:500],
        )
    held_out = min(1000, len(x_train) // 5)  # unused: as in benchmarks/accuracy.py
    return (x_train[:-held_out], y_train[:-held_out]), (x_test, y_test)


def train_kdkeras(student, teacher_logits, train, args, seed):
    dataset = caches.offline_dataset(
        *train, teacher_logits, batch_size=args.batch_size, seed=seed
    )
    distiller = kdkeras.Distiller(teacher=None, student=student)
    steps = batches.steps_per_epoch(len(train[0]), args.batch_size)
    training.compile_student(
        distiller, args, steps, alpha=args.alpha, temperature=args.temperature
    )
    distiller.fit(dataset, epochs=args.epochs, verbose=0)
    return distiller.student


def train_keras(student, teacher, train, args):
    distiller = keras.distillation.Distiller(
        teacher=teacher,
        student=student,
        distillation_losses=keras.distillation.LogitsDistillation(
            temperature=args.temperature, loss=keras.losses.KLDivergence()
        ),
        student_loss_weight=args.alpha,
    )
    steps = batches.steps_per_epoch(len(train[0]), args.batch_size)
    training.compile_student(distiller, args, steps, loss=training.LABEL_LOSS)
    distiller.fit(*train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    return student


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        args.epochs = 1
    start = time.perf_counter()
    train, test = load_embedded(args.quick)
    teacher = load_pretrained_teacher()
    teacher.trainable = False
    teacher_logits = caches.compute_teacher_logits(teacher, train[0])
    print(f"teacher test accuracy {training.accuracy(teacher, test):.4f}", flush=True)
    results = {"kdkeras": [], "keras.distillation": []}
    for seed in args.seeds:
        for name in results:
            keras.utils.set_random_seed(seed)
            student = training.STUDENTS[args.student]()
            if name == "kdkeras":
                student = train_kdkeras(student, teacher_logits, train, args, seed)
            else:
                student = train_keras(student, teacher, train, args)
            results[name].append(training.accuracy(student, test))
            print(f"seed {seed} {name}: {results[name][-1]:.4f}", flush=True)
    print(
        f"\n{args.student}, {args.epochs} epochs, alpha {args.alpha}, "
        f"T {args.temperature}, seeds {args.seeds}, "
        f"{(time.perf_counter() - start) / 60:.1f} min"
    )
    print("| implementation | test accuracy (mean ± std) | per seed |\n|---|---|---|")
    for name, values in results.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        per_seed = ", ".join(f"{v:.4f}" for v in values)
        print(f"| {name} | {statistics.mean(values):.4f} ± {spread:.4f} | {per_seed} |")
    difference = np.mean(results["kdkeras"]) - np.mean(results["keras.distillation"])
    print(f"difference of the means: {difference:+.4f}")
    if args.result or not args.quick:
        write_result(
            "keras_distillation_check",
            args.result,
            command=command_line(__file__, argv),
            seeds=args.seeds,
            seconds=round(time.perf_counter() - start),
            student=args.student,
            epochs=args.epochs,
            alpha=args.alpha,
            temperature=args.temperature,
            runs=[
                {"implementation": name, "seed": seed, "test_accuracy": value}
                for name, values in results.items()
                for seed, value in zip(args.seeds, values, strict=True)
            ],
        )


if __name__ == "__main__":
    main()
