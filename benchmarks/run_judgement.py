"""`kdkeras init` and `kdkeras run` on a folder of photos, as a new user runs
them: what each teacher recipe gives, and what the run's judgement does.

A folder of 4 classes × 400 JPEG photos of different sizes (28–72 px, RGB) is
made from the embedded Fashion-MNIST subset (T-shirt/top, trouser, sneaker,
bag); `kdkeras init --data` writes the config; then `kdkeras run` runs it
with each teacher recipe:

* `init`: the config as `kdkeras init` wrote it (offline, where the ImageNet
  weights cannot be downloaded: the from-scratch recipe);
* `two-stage, random backbone`: the two-stage recipe meant for pretrained
  weights (head on the frozen backbone, then 2 epochs at 1e-4) with
  `teacher.weights: none`, the settings that once shipped a 0.64 model: the
  run must stop at the teacher gate;
* `two-stage, pretrained`: the two-stage recipe from the project's MobileNetV2
  backbone pretrained on the full Fashion-MNIST (48 px), standing in for
  ImageNet weights, which cannot be downloaded here (a same-domain backbone:
  expect better than ImageNet features would give).

Each run's exit code, wall time, test accuracies (teacher, students, LiteRT
files), which student the package holds and the warnings go into
`benchmarks/results/run_judgement.json`.

    python benchmarks/run_judgement.py                 # ~10 min on 2 cores
    python benchmarks/run_judgement.py --seeds 1 2 3
"""

import argparse
import os
import sys
import tempfile

import numpy as np
from result_files import read_json, run_folder, run_kdkeras, write_result

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRETRAINED = os.path.join(
    ROOT,
    "saved_models",
    "pretrained",
    "mobilenet_v2_0.35_48px_fashion_mnist.weights.h5",
)
CLASSES = {0: "t-shirt", 1: "trouser", 7: "sneaker", 8: "bag"}
"""Fashion-MNIST labels → the folder's class names."""

RECIPES = {
    "init": [],
    "two-stage, random backbone": [
        "teacher.weights=none",
        "teacher.head_epochs=2",
        "teacher.fine_tune_epochs=2",
        "teacher.fine_tune_learning_rate=0.0001",
    ],
    "two-stage, pretrained": [
        f"teacher.weights={PRETRAINED}",
        "teacher.image_size=[48, 48]",
        "teacher.head_epochs=2",
        "teacher.fine_tune_epochs=2",
        "teacher.fine_tune_learning_rate=0.0001",
    ],
}
"""Each recipe's `--set` overrides of the config `kdkeras init` wrote."""


def make_photo_folder(directory, images_per_class=400, seed=0):
    """Writes the embedded Fashion-MNIST images of `CLASSES` as RGB JPEGs of
    random sizes (28–72 px), `images_per_class` per class folder."""
    from PIL import Image

    from kdkeras.datasets import load_embedded_fashion_mnist

    (x_train, y_train), _ = load_embedded_fashion_mnist()
    rng = np.random.default_rng(seed)
    for label, name in CLASSES.items():
        class_dir = os.path.join(directory, name)
        os.makedirs(class_dir)
        for index, image in enumerate(x_train[y_train == label][:images_per_class]):
            side = int(rng.integers(28, 73))
            photo = Image.fromarray(image).convert("RGB").resize((side, side))
            photo.save(os.path.join(class_dir, f"{index:04d}.jpg"), quality=90)


def run_outcome(output_dir):
    """What the run folder in `output_dir` holds: finished stages, test
    accuracies by report row, findings."""
    folder = run_folder(output_dir)
    state = read_json(folder, "state.json")
    outcome = {
        "finished_stages": list(state["stages"]),
        "findings": [
            {key: finding[key] for key in ("stage", "kind", "message")}
            for finding in state.get("findings", [])
        ],
    }
    if os.path.exists(os.path.join(folder, "report", "report.json")):
        rows = read_json(folder, "report", "report.json")["rows"]
        outcome["test_accuracy"] = {row["name"]: row["accuracy"] for row in rows}
        outcome["size_bytes"] = {row["name"]: row["size_bytes"] for row in rows}
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--output", default=None, help="default: benchmarks/results")
    arguments = parser.parse_args()
    unknown = sorted(set(arguments.recipes) - set(RECIPES))
    if unknown:
        parser.error(f"--recipes: expected names of {list(RECIPES)}; got {unknown}")
    work = tempfile.mkdtemp(prefix="kdkeras-run-judgement-")
    make_photo_folder(os.path.join(work, "photos"))
    code, init_output, _ = run_kdkeras(["init", "--data", "photos"], cwd=work)
    if code:
        sys.exit(f"kdkeras init failed:\n{init_output}")
    with open(os.path.join(work, "kdkeras.yaml"), encoding="utf-8") as file:
        init_config = file.read()
    runs = []
    for seed in arguments.seeds:
        for recipe in arguments.recipes:
            output_dir = os.path.join(work, f"runs-{seed}-{len(runs)}")
            overrides = [*RECIPES[recipe], f"run.seed={seed}"]
            command = ["run", "kdkeras.yaml", "--output", output_dir]
            for override in overrides:
                command += ["--set", override]
            code, output, seconds = run_kdkeras(command, cwd=work)
            outcome = run_outcome(output_dir)
            runs.append(
                {
                    "recipe": recipe,
                    "seed": seed,
                    "command": "kdkeras " + " ".join(command),
                    "exit_code": code,
                    "seconds": round(seconds, 1),
                    "last_lines": output.strip().splitlines()[-4:],
                    **outcome,
                }
            )
            print(
                f"{recipe}, seed {seed}: exit {code}, {seconds:.0f} s, "
                f"{outcome.get('test_accuracy')}",
                flush=True,
            )
    write_result(
        "run_judgement",
        arguments.output,
        data="4 classes x 400 RGB JPEGs, 28-72 px, from the embedded "
        "Fashion-MNIST subset (t-shirt, trouser, sneaker, bag)",
        init_teacher_section=init_config.split("teacher:")[1].split("\n\n")[0],
        seeds=arguments.seeds,
        runs=runs,
    )


if __name__ == "__main__":
    main()
