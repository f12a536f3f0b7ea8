"""`kdkeras run` on the full Fashion-MNIST with `student.architecture: auto`
and a device budget of 1/20 of the teacher's size and 1/10 of its latency.

The teacher is `examples/configs/fashion_mnist.yaml`'s (MobileNetV2 0.35 on
a 48 × 48 RGB view of the images, from the project's pretrained backbone,
fine-tuned in two stages). Its size (the `.keras` file, as the report
measures it) and its batch-1 latency are measured on an untrained copy of
the same architecture before the run (weights do not change either): the
latency as a float32 LiteRT file in the interpreter, the runtime the
students are timed in, so the budget compares like with like. The first
seed trains the teacher; the others reuse it (`teacher.path`), so the seeds
vary the students. `distill.alpha` and `temperature` are `auto`.

The goal: the int8 student within 1 point of the teacher's test accuracy.

    python benchmarks/device_budget.py --seeds 1 2 3      # ~1 h per seed on 2 cores
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
CONFIG = os.path.join(REPO_ROOT, "examples", "configs", "fashion_mnist.yaml")


def teacher_cost(config_path):
    """`(size_kb, latency_ms)` of the config's teacher: its `.keras` file and
    the median batch-1 latency of its float32 LiteRT file (one thread)."""
    from kdkeras.config import load_config
    from kdkeras.evaluation import measure_latency, model_size_bytes
    from kdkeras.export import export_litert
    from kdkeras.models import build_teacher
    from kdkeras.pipeline import models as run_models

    config = load_config(config_path)
    input_shape = (28, 28, 1)
    view = run_models.teacher_view(config.teacher, input_shape)
    core = build_teacher(
        config.teacher.preset,
        10,
        (*view.size, 3),
        weights=None,
        width=config.teacher.width,
        name="teacher_core",
    )
    teacher = run_models.with_view(core, view, input_shape, name="teacher")
    path = os.path.join(tempfile.mkdtemp(), "teacher_float32.tflite")
    export_litert(teacher, path, check_against_keras=False)
    latency = measure_latency(path, num_runs=200, num_threads=1)
    return model_size_bytes(teacher) / 1024, latency["median_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--output", default=None, help="default: benchmarks/results")
    arguments = parser.parse_args()
    start = time.perf_counter()
    teacher_kb, teacher_ms = teacher_cost(CONFIG)
    budget = {"size_kb": round(teacher_kb / 20, 1), "latency_ms": teacher_ms / 10}
    print(f"teacher {teacher_kb:.1f} KB, {teacher_ms:.3f} ms; budget {budget}")
    work = tempfile.mkdtemp(prefix="kdkeras-device-budget-")
    runs, teacher_path = [], None
    for seed in arguments.seeds:
        overrides = [
            "student.architecture=auto",
            f"student.budget.size_kb={budget['size_kb']}",
            f"student.budget.latency_ms={budget['latency_ms']:.4f}",
            "distill.alpha=auto",
            "distill.temperature=auto",
            f"run.seed={seed}",
        ]
        if teacher_path is not None:
            overrides.append(f"teacher.path={teacher_path}")
        folder, seconds, last_lines = run_config(
            CONFIG, overrides, os.path.join(work, f"seed-{seed}")
        )
        teacher_path = teacher_path or os.path.join(folder, "models", "teacher.keras")
        report = read_json(folder, "report", "report.json")
        state = read_json(folder, "state.json")
        accuracy = {row["name"]: row["accuracy"] for row in report["rows"]}
        run = {
            "seed": seed,
            "command": "kdkeras run examples/configs/fashion_mnist.yaml "
            + " ".join(f"--set {o}" for o in overrides),
            "seconds": round(seconds),
            "test_accuracy": accuracy,
            "size_bytes": {row["name"]: row["size_bytes"] for row in report["rows"]},
            "int8_points_below_teacher": round(
                100 * (accuracy["teacher"] - accuracy["student int8 .tflite"]), 2
            ),
            "findings": state.get("findings", []),
            "last_lines": last_lines,
        }
        runs.append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "findings"}))
        sys.stdout.flush()
    write_result(
        "device_budget",
        arguments.output,
        seeds=arguments.seeds,
        seconds=round(time.perf_counter() - start),
        teacher={"size_kb": round(teacher_kb, 1), "float32_litert_ms": teacher_ms},
        budget=budget,
        runs=runs,
    )


if __name__ == "__main__":
    main()
