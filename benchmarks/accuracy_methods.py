"""Distillation methods against fair scratch baselines on the full Fashion-MNIST.

The teacher is the project's ResNet
(`tools/train_teacher.py`, weights in `saved_models/pretrained/`). For each
student and seed, every method starts from the same initial weights and
trains for the same epochs with the same optimizer (Adam, cosine decay to 0,
batches of 128); a method is compared with the scratch student **that saw the
same augmentation**:

* `scratch`: labels only, the plain images;
* `kd`: Hinton et al.'s KD (`alpha`, `T`) from teacher logits cached once on
  the plain images (offline);
* `dkd`: decoupled KD (Zhao et al. 2022) from the same cache;
* `lskd`: KD on z-scored logits (Sun et al. 2024, `"kd_standardized"`), from
  the same cache;
* `scratch_views`: labels only, on replayable augmented views (shifts by up
  to 2 px, flips, and mixup when `--mixup` > 0; mixed views get mixed labels);
* `kd_views`: KD on the same views, the teacher's logits for each view from an
  augmentation-consistent cache (`kdkeras.caches.augmented_file`);
* `lskd_views`: logit-standardized KD on the same views;
* `fm`: function matching (Beyer et al. 2022): the same views, pure
  distillation (`alpha = 0`, `T = 1`);
* `kd_ensemble`: KD from the mean logits of several teachers (the teacher and
  those of `--extra-teacher-weights`), cached once on the plain images;
* `kd_at`: KD plus attention transfer (Zagoruyko & Komodakis 2017) from two
  stages of the teacher to the student's two convolution blocks, online (the
  teacher runs on every batch; CNN students and the VGG teacher only);
* `dist`: DIST (Huang et al. 2022, arXiv:2205.10536): Pearson-correlation
  relations of the softened outputs, inter- and intra-class, from the same
  cache as `kd` (`--dist-temperature`, `--dist-alpha`; the paper's CIFAR
  setting: T = 4, the DIST loss weighted 2 to the label loss's 1, so
  alpha = 1/3);
* `rkd`: labels plus relational KD (Park et al. 2019, arXiv:1904.05068),
  distance- and angle-wise (weights 25 and 50, as RepDistiller's CIFAR runs)
  between the penultimate embeddings (`EMBEDDING_PAIR`);
* `pkt`: labels plus probabilistic knowledge transfer (Passalis & Tefas
  2018, arXiv:1803.10837) between the same embeddings (`--pkt-weight`);
* `crd`: labels plus contrastive representation distillation (Tian et al.
  2020, arXiv:1910.10699) between the same embeddings, with memory
  banks of the training set (its paper's constants: 128-d heads, 16,384
  negatives, temperature 0.07, momentum 0.5, weight 0.8);
  these three read the teacher's embeddings stored once
  (`kdkeras.caches.compute_teacher_features`, offline: the teacher does not
  run while they train) unless `--teacher-features online`;
* `kd_assistant`: a teacher assistant (Mirzadeh et al. 2020,
  arXiv:1902.03393): a model between teacher and student in size
  (`--assistant`, e.g. `cnn34k`) is distilled from the teacher first (KD
  with the same `T`, `alpha` and epochs, seed 0, once for all seeds), and
  the student is distilled from the assistant's cached logits.

Gap closed = `(method - baseline) / (teacher - baseline)`, with the baseline
`scratch` for `kd`/`dkd` and `scratch_views` for `kd_views`/`fm`. By default
models are picked by nothing: the last epoch's student is scored on the
10,000 test images (55,000 train; the last 5,000 training images are held
out and give the validation accuracy printed beside it). With
`--select-best` every method alike is scored at the epoch of its best
validation accuracy (a student that overfits a long schedule, as a scratch
one may, is then compared at its best, not at its last epoch), and each
run's per-epoch validation accuracy is recorded in the `--output` JSON.
With `--teacher-flip-tta` every teacher averages its logits on the image
and on its horizontal flip (the teacher's flip-TTA accuracy is the target).

    python benchmarks/accuracy_methods.py --student cnn9k --epochs 20
    python benchmarks/accuracy_methods.py --methods scratch kd --seeds 0 --quick
"""

import argparse
import json
import os
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))
sys.path.insert(0, os.path.join(REPO_ROOT, "benchmarks"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from method_teachers import (  # noqa: E402
    assistant_logits,
    cached_features,
    ensemble_logits,
    load_teacher,
    teacher_caches,
    weights_name,
)
from method_training import (  # noqa: E402
    EMBEDDING_PAIR,
    STUDENTS,
    accuracy,
    train_one,
)
from result_files import command_line, write_result  # noqa: E402
from teacher_models import OUTPUT as TEACHER_WEIGHTS  # noqa: E402

import kdkeras  # noqa: E402
from kdkeras import io_utils  # noqa: E402

NUM_VALIDATION_IMAGES = 5000
METHODS = (
    "scratch",
    "kd",
    "dkd",
    "lskd",
    "scratch_views",
    "kd_views",
    "lskd_views",
    "fm",
    "kd_ensemble",
    "kd_at",
    "kd_assistant",
    "dist",
    "rkd",
    "pkt",
    "crd",
)
BASELINE = {
    "kd": "scratch",
    "dkd": "scratch",
    "lskd": "scratch",
    "lskd_views": "scratch_views",
    "kd_views": "scratch_views",
    "fm": "scratch_views",
    "kd_ensemble": "scratch",
    "kd_at": "scratch",
    "kd_assistant": "scratch",
    "dist": "scratch",
    "rkd": "scratch",
    "pkt": "scratch",
    "crd": "scratch",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--student", choices=sorted(STUDENTS), default="cnn9k")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--alpha", type=float, default=0.1, help="kd, dkd, kd_views")
    parser.add_argument("--temperature", type=float, default=2.0, help="kd, kd_views")
    parser.add_argument("--dkd-temperature", type=float, default=4.0)
    parser.add_argument("--dkd-beta", type=float, default=8.0, help="NCKD weight")
    parser.add_argument("--fm-temperature", type=float, default=1.0)
    parser.add_argument("--lskd-temperature", type=float, default=2.0)
    parser.add_argument("--shift", type=int, default=2, help="views: pixels")
    parser.add_argument("--mixup", type=float, default=0.0, help="views: mixup alpha")
    parser.add_argument("--teacher-weights", default=TEACHER_WEIGHTS)
    parser.add_argument(
        "--extra-teacher-weights",
        nargs="*",
        default=[],
        help="kd_ensemble: more teachers (tools/train_teacher.py weights)",
    )
    parser.add_argument(
        "--teacher-flip-tta",
        action="store_true",
        help="every teacher averages its logits on the image and its mirror image",
    )
    parser.add_argument("--at-weight", type=float, default=500.0, help="kd_at")
    parser.add_argument("--dist-temperature", type=float, default=4.0, help="dist")
    parser.add_argument(
        "--dist-alpha", type=float, default=1 / 3, help="dist: the label weight"
    )
    # RepDistiller weights PKT 30,000 over its batch-mean of all batch² terms;
    # kdkeras' per-example mean is about batch-size (128) times larger.
    parser.add_argument("--pkt-weight", type=float, default=234.0, help="pkt")
    parser.add_argument(
        "--teacher-features",
        choices=("stored", "online"),
        default="stored",
        help="rkd, pkt, crd: the teacher's embeddings stored once "
        "(kdkeras.caches.compute_teacher_features), or the teacher run on "
        "every batch",
    )
    parser.add_argument(
        "--feature-kd",
        action="store_true",
        help="rkd, pkt, crd: add KD (--alpha, --temperature) to the labels and "
        "the relations, as their papers' combined rows (RepDistiller's -a)",
    )
    parser.add_argument(
        "--assistant", choices=sorted(STUDENTS), default="cnn34k", help="kd_assistant"
    )
    parser.add_argument("--cache-dir", default="/tmp/kdkeras_accuracy_methods")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST folder")
    parser.add_argument("--output", default=None, help="results .json")
    parser.add_argument(
        "--result",
        default=None,
        help="result file to add the runs to (default "
        "benchmarks/results/accuracy_methods.json; --quick writes none)",
    )
    parser.add_argument("--quick", action="store_true", help="3,000 images, 2 epochs")
    parser.add_argument(
        "--select-best",
        action="store_true",
        help="score every method at its epoch of best validation accuracy",
    )
    return parser.parse_args(argv)


def load_data(path, quick):
    (x_train, y_train), (x_test, y_test) = kdkeras.datasets.load_fashion_mnist(
        path=path
    )
    x_train, x_test = x_train[..., None], x_test[..., None]
    if quick:
        x_train, y_train, x_test, y_test = (
            x_train[:3000],
            y_train[:3000],
            x_test[:1000],
            y_test[:1000],
        )
    num_validation = min(NUM_VALIDATION_IMAGES, len(x_train) // 6)
    train = (x_train[:-num_validation], y_train[:-num_validation])
    validation = (x_train[-num_validation:], y_train[-num_validation:])
    return train, validation, (x_test, y_test)


def summarize(results, teacher_accuracy):
    """Mean ± std per method and the gap closed against its baseline."""
    lines = [
        f"teacher: {teacher_accuracy:.4f}",
        "| method | test accuracy (mean ± std) | per seed | gap closed |",
        "|---|---|---|---|",
    ]
    means = {m: statistics.mean(r) for m, r in results.items()}
    for method, values in results.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        baseline = BASELINE.get(method)
        closed = "—"
        if baseline in means and teacher_accuracy != means[baseline]:
            gap = (means[method] - means[baseline]) / (
                teacher_accuracy - means[baseline]
            )
            closed = f"{100 * gap:+.0f}% (vs {baseline})"
        per_seed = ", ".join(f"{v:.4f}" for v in values)
        lines.append(
            f"| {method} | {means[method]:.4f} ± {spread:.4f} | {per_seed} | {closed} |"
        )
    return "\n".join(lines)


def teacher_name(args):
    """The teacher(s) a run distils from, by weights file (and flip TTA)."""
    names = [
        weights_name(path)
        for path in [args.teacher_weights, *args.extra_teacher_weights]
    ]
    return " + ".join(names) + (", flip TTA" if args.teacher_flip_tta else "")


def method_settings(method, args):
    """The arguments that set `method`'s loss, for the result file."""
    if method.startswith("scratch"):
        return {}
    if method == "dkd":
        return dict(alpha=args.alpha, T=args.dkd_temperature, beta=args.dkd_beta)
    if method == "fm":
        return dict(alpha=0.0, T=args.fm_temperature)
    if method.startswith("lskd"):
        return dict(alpha=args.alpha, T=args.lskd_temperature)
    if method == "dist":
        return dict(alpha=round(args.dist_alpha, 4), T=args.dist_temperature)
    # Runs from stored teacher features say so (the online runs predate it).
    stored = {"teacher_features": "stored"} if args.teacher_features == "stored" else {}
    # With --feature-kd: KD's alpha and temperature beside the method's own.
    kd = dict(alpha=args.alpha, kd_T=args.temperature) if args.feature_kd else {}
    labels = {} if args.feature_kd else dict(alpha=1.0)
    if method == "rkd":
        return dict(**labels, distance_weight=25.0, angle_weight=50.0, **kd, **stored)
    if method == "pkt":
        return dict(**labels, weight=args.pkt_weight, **kd, **stored)
    if method == "crd":
        return dict(**labels, weight=0.8, negatives=16384, T=0.07, **kd, **stored)
    settings = dict(alpha=args.alpha, T=args.temperature)
    if method == "kd_at":
        settings["at_weight"] = args.at_weight
    if method == "kd_assistant":
        settings["assistant"] = args.assistant
    return settings


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        args.epochs = 2
    start = time.perf_counter()
    train, validation, test = load_data(args.data_path, args.quick)
    teacher = load_teacher(args.teacher_weights, args)
    teacher_accuracy = accuracy(teacher, test)
    print(f"teacher test accuracy {teacher_accuracy:.4f}", flush=True)
    needs_views = any(m.endswith("_views") or m == "fm" for m in args.methods)
    feature_methods = {"rkd", "pkt", "crd"} & set(args.methods)
    stored = {}
    if feature_methods and args.teacher_features == "stored":
        # First: the plain logits are then read from the same file.
        stored = cached_features(teacher, train, args, EMBEDDING_PAIR[0])
    plain_logits, cache = teacher_caches(teacher, train, args, args.epochs, needs_views)
    teachers = {"plain": plain_logits, "views": cache, "features": stored}
    if "kd_ensemble" in args.methods:
        teachers["ensemble"] = ensemble_logits(teacher, train, test, args)
    if "kd_at" in args.methods or (
        feature_methods and args.teacher_features == "online"
    ):
        teachers["model"] = teacher
    if "kd_assistant" in args.methods:
        teachers["assistant"] = assistant_logits(plain_logits, train, test, args)
    del teacher
    results, runs = {}, []
    for seed in args.seeds:
        for method in args.methods:
            keras.utils.set_random_seed(seed)
            student = STUDENTS[args.student]()
            run_start = time.perf_counter()
            history = keras.callbacks.History() if args.select_best else None
            student = train_one(
                method,
                student,
                train,
                teachers,
                args,
                seed,
                validation if args.select_best else None,
                history,
            )
            run = dict(
                student=args.student,
                epochs=args.epochs,
                teacher=teacher_name(args),
                teacher_test_accuracy=round(teacher_accuracy, 4),
                method=method,
                settings=method_settings(method, args),
                seed=seed,
                test_accuracy=accuracy(student, test),
                validation_accuracy=accuracy(student, validation),
                seconds=round(time.perf_counter() - run_start),
            )
            if history is not None:
                curve = [round(v, 4) for v in history.history["val_accuracy"]]
                run.update(best_epoch=1 + int(np.argmax(curve)), validation_curve=curve)
            runs.append(run)
            results.setdefault(method, []).append(run["test_accuracy"])
            print(json.dumps(run), flush=True)
    table = summarize(results, teacher_accuracy)
    print(
        f"\nstudent {args.student} ({student.count_params():,} parameters), "
        f"{args.epochs} epochs, seeds {args.seeds}, "
        f"{(time.perf_counter() - start) / 60:.1f} min\n{table}",
        flush=True,
    )
    if args.result or not args.quick:
        write_result(
            "accuracy_methods",
            args.result,
            merge_on=("student", "epochs", "teacher", "method", "settings", "seed"),
            command=command_line(__file__, argv),
            seeds=args.seeds,
            seconds=round(time.perf_counter() - start),
            runs=runs,
        )
    if args.output:
        with io_utils.atomic_path(args.output, overwrite=True) as path:
            with open(path, "w") as file:
                json.dump(
                    dict(
                        arguments=vars(args),
                        teacher_accuracy=teacher_accuracy,
                        runs=runs,
                        table=table,
                    ),
                    file,
                    indent=1,
                )


if __name__ == "__main__":
    main()
