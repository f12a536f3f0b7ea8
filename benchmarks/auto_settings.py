"""`alpha` and the temperature chosen on the validation split (`auto`) against
fixed settings, with the scratch baseline of the same seeds.

Two settings of the project's benchmarks, each over several seeds:

* `fashion_mnist`: the 9k CNN on the full Fashion-MNIST from the VGG
  teacher's cached logits, as `benchmarks/accuracy_methods.py` trains it
  (same data split, optimizer, batches): `scratch`, `kd` with the config's
  fixed defaults (`alpha` 0.1, `T` 2), `kd` with the best hand-picked
  setting of the accuracy benchmarks on the full data (`alpha` 0.5, `T` 2),
  and `auto`: `kdkeras.distillation.choose_distillation_settings` on the
  5,000 validation images with the run's default budget (1.5 distill
  stages: the sweep shares half a stage), then the winner's full fit;
* `demo`: `kdkeras run examples/configs/demo.yaml` as it is (fixed `alpha`
  0.1, `T` 2) and with `distill.alpha=auto distill.temperature=auto`, the
  embedded 10,000-image subset (teacher, scratch and distilled students;
  no export).

Test accuracy of every run, the chosen settings and the candidates' scores,
and the seconds go into `benchmarks/results/auto_settings_<setting>.json`.

    python benchmarks/auto_settings.py fashion_mnist --epochs 15 --seeds 0 1 2
    python benchmarks/auto_settings.py demo --seeds 1 2 3
"""

import argparse
import json
import os
import sys
import tempfile
import time

from result_files import read_json, run_config, write_result

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
VGG_TEACHER = os.path.join(
    REPO_ROOT, "saved_models", "pretrained", "fashion_mnist_vgg_teacher.weights.h5"
)
FIXED = {"alpha": 0.1, "temperature": 2.0}
"""The config's defaults (`kdkeras.config.DistillSection`)."""
HAND_PICKED = {"alpha": 0.5, "temperature": 2.0}
"""The best setting of the accuracy benchmarks for the full data."""
AUTO_BUDGET = 1.5
"""`distill.auto_budget`'s default: the sweep shares `AUTO_BUDGET - 1` stages."""


def fashion_mnist_runs(arguments):
    """The four methods per seed on the full Fashion-MNIST."""
    sys.path[:0] = [HERE, os.path.join(REPO_ROOT, "tools")]
    import accuracy_methods as methods
    import keras
    from method_teachers import load_teacher, teacher_caches

    from kdkeras.distillation import choose_distillation_settings

    args = methods.parse_args(
        [
            "--epochs",
            str(arguments.epochs),
            "--teacher-weights",
            VGG_TEACHER,
            "--seeds",
            *map(str, arguments.seeds),
        ]
        + (["--data-path", arguments.data_path] if arguments.data_path else [])
    )
    train, validation, test = methods.load_data(args.data_path, quick=False)
    teacher = load_teacher(args.teacher_weights, args)
    teacher_accuracy = methods.accuracy(teacher, test)
    plain_logits, _ = teacher_caches(teacher, train, args, args.epochs, False)
    del teacher
    teachers = {"plain": plain_logits}
    runs = []
    for seed in args.seeds:
        for method in ("scratch", "kd_fixed", "kd_hand_picked", "auto"):
            start = time.perf_counter()
            run = {"method": method, "seed": seed}
            settings = {"kd_fixed": FIXED, "kd_hand_picked": HAND_PICKED}.get(method)
            if method == "auto":
                # The candidates share the sweep's epochs: (budget - 1) stages.
                chosen = choose_distillation_settings(
                    methods.STUDENTS[args.student],
                    train,
                    plain_logits,
                    validation,
                    epochs=(AUTO_BUDGET - 1) * args.epochs / 4,
                    batch_size=args.batch_size,
                    learning_rate=args.learning_rate,
                    seed=seed,
                )
                settings = {
                    "alpha": chosen.alpha,
                    "temperature": chosen.temperature,
                }
                run["candidates"] = list(chosen.table)
                run["rule"] = chosen.rule
            if settings is not None:
                args.alpha, args.temperature = (
                    settings["alpha"],
                    settings["temperature"],
                )
                run.update(settings)
            keras.utils.set_random_seed(seed)
            student = methods.train_one(
                "scratch" if method == "scratch" else "kd",
                methods.STUDENTS[args.student](),
                train,
                teachers,
                args,
                seed,
            )
            run.update(
                test_accuracy=methods.accuracy(student, test),
                validation_accuracy=methods.accuracy(student, validation),
                seconds=round(time.perf_counter() - start),
            )
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "candidates"}))
            sys.stdout.flush()
    return {
        "teacher": "VGG (saved_models/pretrained/fashion_mnist_vgg_teacher)",
        "teacher_test_accuracy": teacher_accuracy,
        "student": args.student,
        "epochs": args.epochs,
        "runs": runs,
    }


def demo_runs(arguments):
    """`kdkeras run` of the demo config, fixed and auto, per seed."""
    config = os.path.join(REPO_ROOT, "examples", "configs", "demo.yaml")
    work = tempfile.mkdtemp(prefix="kdkeras-auto-settings-")
    runs = []
    for seed in arguments.seeds:
        for method, overrides in (
            ("fixed", []),
            ("auto", ["distill.alpha=auto", "distill.temperature=auto"]),
        ):
            folder, seconds, _ = run_config(
                config,
                [
                    *overrides,
                    f"run.seed={seed}",
                    "export.enabled=false",
                    "report.latency_runs=0",
                    "run.tensorboard=false",
                ],
                os.path.join(work, f"{method}-{seed}"),
            )
            report = read_json(folder, "report", "report.json")
            state = read_json(folder, "state.json")
            run = {
                "method": method,
                "seed": seed,
                "command": "kdkeras run examples/configs/demo.yaml "
                + " ".join(f"--set {o}" for o in overrides + [f"run.seed={seed}"]),
                "test_accuracy": {r["name"]: r["accuracy"] for r in report["rows"]},
                "seconds": round(seconds),
            }
            choice = state["stages"].get("distill_settings")
            if choice is not None:
                run["chosen"] = choice["artifacts"]
            runs.append(run)
            print(json.dumps(run), flush=True)
    return {"config": "examples/configs/demo.yaml", "runs": runs}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("setting", choices=("fashion_mnist", "demo"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15, help="fashion_mnist")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST folder")
    parser.add_argument("--output", default=None)
    arguments = parser.parse_args()
    start = time.perf_counter()
    runner = fashion_mnist_runs if arguments.setting == "fashion_mnist" else demo_runs
    measured = runner(arguments)
    write_result(
        f"auto_settings_{arguments.setting}",
        arguments.output,
        seeds=arguments.seeds,
        seconds=round(time.perf_counter() - start),
        **measured,
    )


if __name__ == "__main__":
    main()
