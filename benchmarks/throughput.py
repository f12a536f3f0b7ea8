"""Training throughput: plain student training vs online and offline distillation.

Measures training samples per second, in one run and side by side, of

* plain: `student.compile(...)` + `student.fit(dataset)` on the labels;
* online: `kdkeras.Distiller(teacher, student)`, a teacher forward pass per step;
* offline: `kdkeras.Distiller(teacher=None, student)` on
  `kdkeras.caches.offline_dataset(...)` of logits computed once by
  `kdkeras.caches.compute_teacher_logits`;
* plain, views / views cache: the same two on augmented views (shifts, flips,
  mixup; `kdkeras.augmentation.rendering`), rendered in the input pipeline: the
  student alone on the views' (mixed) labels, and the offline Distiller on an
  augmentation-consistent cache of the teacher's logits for those views
  (`kdkeras.caches.augmented_file`). Goal: views cache >= 0.95x plain, views.
* sharded cache: the offline Distiller on `caches.sharded_dataset(...)`,
  plain's pipeline zipped with logits streamed from TFRecord shards written
  once by `kdkeras.caches.sharded_logits.cache_teacher_logits`.
  Goal: sharded cache >= 0.95x plain.
* sharded views cache: the offline Distiller on the same views as "plain,
  views", their logits streamed from a sharded view cache
  (`caches.cache_augmented_logits(teacher, x, "dir/", plan, 1)`,
  `kdkeras.caches.sharded_augmented`) and the views rendered by the same
  function. Goal: sharded views cache >= 0.95x plain, views.

All variants train the same small CNN (from the same initial weights) with
the same optimizer settings on the embedded Fashion-MNIST subset, fed as
cached `tf.data` pipelines built the same way (`throughput_variants.py`;
tf.data autotuning off for all, see `with_autotune` there). Each variant is
warmed up (tracing, cache filling) outside the timings; then one-epoch `fit`
calls are timed in interleaved repetitions (plain, online, offline, plain,
...) so that drifts of the machine hit all variants alike. The median
samples/second of each variant is reported, with the
ratios to plain training, and whether other processes disturbed the timings.

    python benchmarks/throughput.py            # defaults: 10000 samples, 5 reps
    python benchmarks/throughput.py --quick    # smoke test, a few seconds

`--sharded-only` times only plain and sharded cache, `--views-only` only
plain and the three view rows, with more repetitions in the same time.
`--methods` times plain, online and offline KD, Keras' own
`keras.distillation.Distiller` and a row per distillation method
(`throughput_methods.py`): online KD against Keras' Distiller, every other
method against plain training.
`--diagnose` adds variants that isolate the costs of the offline Distiller
(see `benchmarks/README.md`). The report and the goals are in
`throughput_report.py`.
"""

import argparse
import datetime
import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf
from result_files import command_line, write_result
from throughput_methods import GOALS as METHOD_GOALS
from throughput_methods import RATIOS as METHOD_RATIOS
from throughput_methods import method_variants
from throughput_report import print_report, report_disturbance, summary
from throughput_variants import (
    SEED,
    Variant,
    build_student,
    build_teacher,
    fit_without_nonfinite_check,
    load_data,
    make_dataset,
    make_optimizer,
    temporary_directory,
    with_autotune,
)

import kdkeras

SHARDED_ONLY = ("plain", "sharded cache")
VIEWS_ONLY = ("plain", "plain, views", "views cache", "sharded views cache")
"""The variants `--sharded-only` and `--views-only` time."""


def build_variants(x, y, batch_size, diagnose=False, autotune=False, methods=False):
    keras.utils.set_random_seed(SEED)
    teacher = build_teacher()
    template = build_student()
    initial_weights = template.get_weights()

    def new_student():
        student = build_student()
        student.set_weights(initial_weights)
        return student

    # The teacher is left untrained: its weights do not change its cost.
    start = time.perf_counter()
    teacher_logits = kdkeras.caches.compute_teacher_logits(teacher, x)
    logits_seconds = time.perf_counter() - start

    plain = new_student()
    plain.compile(
        optimizer=make_optimizer(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    online = kdkeras.Distiller(teacher=teacher, student=new_student())
    online.compile(optimizer=make_optimizer())
    offline = kdkeras.Distiller(teacher=None, student=new_student())
    offline.compile(optimizer=make_optimizer())

    def offline_data():
        dataset = kdkeras.caches.offline_dataset(
            x, y, teacher_logits, batch_size=batch_size, shuffle=False
        )
        # `offline_dataset` turns autotuning off itself; a dataset derived
        # from it (`with_options`) would have its labels checked again.
        return with_autotune(dataset, autotune) if autotune else dataset

    variants = [
        Variant("plain", plain, make_dataset(x, y, batch_size, autotune)),
        Variant("online", online, make_dataset(x, y, batch_size, autotune)),
        Variant("offline", offline, offline_data()),
    ]
    if methods:
        variants += method_variants(teacher, new_student, x, y, batch_size)
        return variants, logits_seconds
    variants += [
        *view_variants(teacher, new_student, x, y, batch_size, autotune),
        sharded_variant(teacher, new_student, x, y, batch_size, autotune),
    ]
    if diagnose:
        unchecked = kdkeras.Distiller(teacher=None, student=new_student())
        unchecked.compile(optimizer=make_optimizer())
        variants.append(
            Variant(
                "offline, no RaiseOnNonFiniteLoss",
                unchecked,
                offline_data(),
                fit=fit_without_nonfinite_check,
            )
        )
        same_loss = kdkeras.Distiller(teacher=None, student=new_student())
        same_loss.compile(
            optimizer=make_optimizer(),
            student_loss_fn=keras.losses.SparseCategoricalCrossentropy(
                from_logits=True
            ),
        )
        variants.append(
            Variant("offline, student loss = plain's", same_loss, offline_data())
        )
        plain_offline_data = new_student()
        plain_offline_data.compile(
            optimizer=make_optimizer(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        variants.append(
            Variant(
                "plain on offline_dataset's x, y",
                plain_offline_data,
                offline_data().map(lambda x, targets: (x, targets[0])),
            )
        )
    return variants, logits_seconds


def view_variants(teacher, new_student, x, y, batch_size, autotune):
    """Plain training and the offline Distiller on one epoch of the same views."""
    plan = kdkeras.augmentation.rendering.AugmentationPlan(
        shift=2, mixup_alpha=0.2, seed=SEED
    )
    cache = kdkeras.caches.augmented_file.compute_augmented_logits(teacher, x, plan, 1)
    plain = new_student()
    plain.compile(optimizer=make_optimizer(), loss=kdkeras.losses.LabelCrossEntropy())
    plain_views = kdkeras.augmentation.rendering.augmented_dataset(
        x, y, cache.parameters, batch_size, num_classes=10, shuffle=False
    )
    distiller = kdkeras.Distiller(teacher=None, student=new_student())
    distiller.compile(optimizer=make_optimizer())
    cached_views = cache.dataset(x, y, batch_size, shuffle=False)
    sharded_cache = kdkeras.caches.augmented_file.cache_augmented_logits(
        teacher, x, os.path.join(temporary_directory(), "views"), plan, 1
    )
    sharded_distiller = kdkeras.Distiller(teacher=None, student=new_student())
    sharded_distiller.compile(optimizer=make_optimizer())
    sharded_views = sharded_cache.dataset(x, y, batch_size, shuffle=False)
    return [
        Variant("plain, views", plain, with_autotune(plain_views, autotune)),
        Variant("views cache", distiller, with_autotune(cached_views, autotune)),
        Variant(
            "sharded views cache",
            sharded_distiller,
            with_autotune(sharded_views, autotune),
        ),
    ]


def sharded_variant(teacher, new_student, x, y, batch_size, autotune):
    """The offline Distiller on plain's pipeline zipped with streamed logits."""
    cache = os.path.join(temporary_directory(), "logits")
    sharded_cache = kdkeras.caches.sharded_logits
    sharded_cache.write_sharded_logits(
        teacher, make_dataset(x, y, batch_size, autotune), cache
    )
    dataset = sharded_cache.sharded_dataset(
        cache, make_dataset(x, y, batch_size, autotune), teacher=teacher
    )
    distiller = kdkeras.Distiller(teacher=None, student=new_student())
    distiller.compile(optimizer=make_optimizer())
    return Variant("sharded cache", distiller, with_autotune(dataset, autotune))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed epochs per variant (default: 5, or 2 with --quick)",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help="training samples per epoch (default: all 10000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1024 samples and 2 repeats unless given",
    )
    parser.add_argument(
        "--autotune",
        action="store_true",
        help="leave tf.data autotuning on (it stalls some epochs; see README)",
    )
    parser.add_argument(
        "--sharded-only",
        action="store_true",
        help="time only plain and sharded cache (more repetitions in less time)",
    )
    parser.add_argument(
        "--views-only",
        action="store_true",
        help="time only plain, plain, views and the two view caches",
    )
    parser.add_argument(
        "--methods",
        action="store_true",
        help="time plain, online and offline KD, keras.distillation and a row "
        "per distillation method (throughput_methods.py)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        metavar="NAME",
        help="time only these variants (names as in the report, e.g. plain "
        "offline online 'online, keras.distillation'): more repetitions of "
        "them in the same time",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="also time variants that isolate the offline Distiller's costs",
    )
    parser.add_argument(
        "--result",
        default=None,
        help="result file the run is added to (default benchmarks/results/"
        "throughput.json, throughput_sharded.json with --sharded-only, "
        "throughput_views.json with --views-only; --quick writes none)",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.quick and args.samples is None:
        args.samples = 1024
    if sum((args.sharded_only, args.views_only, args.methods)) > 1:
        parser.error("--sharded-only, --views-only and --methods exclude each other")
    if args.variants and "plain" not in args.variants:
        parser.error(
            "--variants must include plain: every row is reported against it. "
            f"Received: {args.variants}"
        )
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    if args.samples is not None and args.samples < 1:
        parser.error("--samples must be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    x, y = load_data(args.samples)
    num_samples = len(x)
    print(
        f"kdkeras {kdkeras.__version__}, keras {keras.__version__}, "
        f"tensorflow {tf.__version__}, numpy {np.__version__}; "
        f"{platform.machine()}, {os.cpu_count()} CPU cores; "
        f"{datetime.date.today().isoformat()}"
    )
    print(f"tf.data autotuning {'on' if args.autotune else 'off'} for all variants")
    variants, logits_seconds = build_variants(
        x,
        y,
        args.batch_size,
        diagnose=args.diagnose,
        autotune=args.autotune,
        methods=args.methods,
    )
    if args.sharded_only:
        variants = [v for v in variants if v.name in SHARDED_ONLY]
    elif args.views_only:
        variants = [v for v in variants if v.name in VIEWS_ONLY]
    if args.variants:
        unknown = set(args.variants) - {v.name for v in variants}
        if unknown:
            raise SystemExit(
                f"--variants: no variant named {sorted(unknown)}; this run has "
                f"{[v.name for v in variants]}"
            )
        variants = [v for v in variants if v.name in args.variants]
    for variant in variants:
        variant.warm_up()
    for repeat in range(args.repeats):
        for variant in variants:
            variant.run_epoch()
        print(
            f"repetition {repeat + 1}/{args.repeats}: "
            + ", ".join(f"{v.name} {v.seconds[-1]:.2f} s" for v in variants),
            flush=True,
        )
    print_report(variants, num_samples, args.batch_size, args.repeats, logits_seconds)
    print(f"\ntotal runtime {time.perf_counter() - started:.0f} s")
    disturbance = report_disturbance(variants)
    if args.result or not args.quick:
        mode = (
            "_sharded"
            if args.sharded_only
            else "_views"
            if args.views_only
            else "_methods"
            if args.methods
            else ""
        )
        write_result(
            "throughput" + mode,
            args.result,
            merge_on=("command",),
            command=command_line(__file__, argv),
            seeds=[0],
            **({"goals": METHOD_GOALS} if args.methods else {}),
            runs=[
                {
                    "samples": num_samples,
                    "batch_size": args.batch_size,
                    "repeats": args.repeats,
                    "autotune": args.autotune,
                    "logits_seconds": round(logits_seconds, 1),
                    "seconds": round(time.perf_counter() - started),
                    "load_average": round(os.getloadavg()[0], 2),
                    **(disturbance or {}),
                    **summary(
                        variants, num_samples, METHOD_RATIOS if args.methods else None
                    ),
                }
            ],
        )


if __name__ == "__main__":
    main()
