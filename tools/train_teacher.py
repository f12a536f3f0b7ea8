"""Trains a strong Fashion-MNIST teacher of the project's own.

The goal it was written for: a teacher that reaches >= 94.5 % test accuracy
on the full Fashion-MNIST, trained from scratch on 2 CPU cores
(docs/teacher_training.md says how close it came). The networks
(`--arch resnet`, a small wide-ResNet; `--arch vgg`) are built by
`tools/teacher_models.py`, which also loads trained teachers.

Training (`main`): random shifts (zero-pad 2 pixels and crop back at a random
offset), horizontal flips and random erasing (one rectangle of noise per
image), all in the `tf.data` pipeline, so the saved model contains no
augmentation; label smoothing (`--label-smoothing`); SGD with Nesterov
momentum 0.9, decoupled weight decay 5e-4 (not on BatchNorm parameters and
biases) and a cosine learning-rate schedule with a linear warm-up.

Resuming: `keras.callbacks.BackupAndRestore` keeps a backup in
`--backup-dir`, so a killed run started again resumes from its last
completed epoch (with the same command, or another `--epochs`: the cosine
schedule is then that of the new command). Every epoch's time and the
command that ran it are kept beside the backup (`<backup-dir>_epochs.json`),
so the JSON written at the end describes the whole run, across all the
commands that made it ("parts", "seconds_per_epoch"). The `.weights.h5`
file holds the network's weights only, not the optimizer's state.

Usage (from the repository root):

    nice -n 19 .venv/bin/python tools/train_teacher.py            # ~1-1.5 h
    .venv/bin/python tools/train_teacher.py --quick                # smoke run
    .venv/bin/python tools/train_teacher.py --time-only --width 1  # s/epoch

Results: docs/teacher_training.md and docs/benchmarks.md, "The teachers".
"""

import argparse
import datetime
import json
import os
import shlex
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # tools/

import keras  # noqa: E402
from teacher_data import make_train_dataset  # noqa: E402
from teacher_models import (  # noqa: E402
    NUM_CLASSES,
    OUTPUT,
    build_from_architecture,
    evaluate_logits,
)

from kdkeras.datasets import load_fashion_mnist  # noqa: E402
from kdkeras.io_utils import atomic_path  # noqa: E402

BACKUP_DIR = "/tmp/kdkeras_train_teacher"

# --------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------


def make_optimizer(steps, warmup_steps, learning_rate, weight_decay):
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=learning_rate * 0.1 if warmup_steps else learning_rate,
        decay_steps=max(1, steps - warmup_steps),
        alpha=0.0,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )
    optimizer = keras.optimizers.SGD(
        schedule, momentum=0.9, nesterov=True, weight_decay=weight_decay
    )
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    return optimizer


class EpochRecord(keras.callbacks.Callback):
    """Times every epoch, saves the latest weights, and records the whole run.

    A run resumed by `BackupAndRestore` is made by several commands. The
    record (`record_path`, a JSON file beside the backup) lists every
    completed epoch of the run: its number, its seconds, the command that ran
    it and when that command started. Training that starts at epoch `k` (0
    in a fresh run, the backup's epoch in a resumed one) keeps the record's
    first `k` epochs and drops the rest, which belong to no backup.
    """

    def __init__(self, weights_path=None, record_path=None, command=""):
        super().__init__()
        self.weights_path = weights_path
        self.record_path = record_path
        self.command = command
        self.started = datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="milliseconds"
        )
        self.seconds = []  # this command's epochs
        self.epochs = None  # the run's epochs, set when training starts

    def on_epoch_begin(self, epoch, logs=None):
        if self.epochs is None:
            recorded = read_record(self.record_path)
            self.epochs = [
                recorded.get(number, {"epoch": number, "seconds": None})
                for number in range(1, epoch + 1)
            ]
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        print(f"epoch {epoch + 1}: {self.seconds[-1]:.1f} s", flush=True)
        self.epochs.append(
            {
                "epoch": epoch + 1,
                "seconds": round(self.seconds[-1], 1),
                "command": self.command,
                "started": self.started,
            }
        )
        if self.weights_path:
            self.model.save_weights(self.weights_path)
        if self.record_path:
            with atomic_path(self.record_path, overwrite=True) as temporary_path:
                with open(temporary_path, "w") as file:
                    json.dump({"epochs": self.epochs}, file, indent=1)

    def parts(self):
        """The commands that made the run: each with its epochs and seconds."""
        parts = []
        for entry in self.epochs or []:
            key = (entry.get("command"), entry.get("started"))
            if not parts or parts[-1]["key"] != key:
                parts.append({"key": key, "epochs": [], "seconds": 0.0})
            parts[-1]["epochs"].append(entry["epoch"])
            parts[-1]["seconds"] += entry["seconds"] or 0.0
        return [
            {
                "command": part["key"][0],
                "started": part["key"][1],
                "epochs": [part["epochs"][0], part["epochs"][-1]],
                "seconds": round(part["seconds"]),
            }
            for part in parts
        ]


def read_record(path):
    """`{epoch number: entry}` from an `EpochRecord` file (empty if none)."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as file:
        return {entry["epoch"]: entry for entry in json.load(file)["epochs"]}


def save_network_weights(model, architecture, path):
    """Saves `model`'s weights without its optimizer's state.

    A compiled model's `save_weights` keeps the optimizer's variables too
    (twice the file, of no use to whoever loads the teacher); an uncompiled
    copy of the network saves the weights alone, atomically.
    """
    network = build_from_architecture(architecture)
    network.set_weights(model.get_weights())
    with atomic_path(path, overwrite=True) as temporary_path:
        network.save_weights(temporary_path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=18)
    parser.add_argument("--arch", choices=["resnet", "vgg"], default="resnet")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument(
        "--stage-filters", default="32,64,128", help="vgg: filters per stage"
    )
    parser.add_argument("--convs-per-stage", type=int, default=2, help="vgg")
    parser.add_argument("--dropout", type=float, default=0.3, help="vgg")
    parser.add_argument(
        "--blocks", default="0,1,1", help="residual blocks per stage (28, 14, 7 px)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--erase-probability", type=float, default=0.3)
    parser.add_argument("--pad", type=int, default=2, help="shift range, pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--backup-dir", default=BACKUP_DIR)
    parser.add_argument(
        "--flip-tta",
        choices=["auto", "yes", "no"],
        default="auto",
        help="ship the flip-TTA model: auto = only if plain accuracy misses "
        "--target and TTA reaches it",
    )
    parser.add_argument("--target", type=float, default=0.945)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 4,000 images, 2 epochs"
    )
    parser.add_argument(
        "--time-only",
        action="store_true",
        help="time 1 epoch on --subset images (default 6,400), no saving",
    )
    parser.add_argument(
        "--subset", type=int, default=None, help="train on the first N images"
    )
    args = parser.parse_args(argv)
    if not args.output.endswith(".weights.h5"):
        parser.error(
            f"--output: expected a path ending in .weights.h5, received {args.output!r}"
        )
    for name in ("stage_filters", "blocks"):
        value = getattr(args, name)
        try:
            setattr(args, name, tuple(int(part) for part in value.split(",")))
        except ValueError:
            parser.error(
                f"--{name.replace('_', '-')}: expected comma-separated integers, "
                f"received {value!r}"
            )
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(
                f"--{name.replace('_', '-')}: expected a positive integer, "
                f"received {getattr(args, name)}"
            )
    if args.subset is not None and args.subset < args.batch_size:
        parser.error(
            f"--subset: expected at least --batch-size ({args.batch_size}) images, "
            f"received {args.subset}"
        )
    return args


def main(argv=None):
    args = parse_args(argv)
    command = "python tools/train_teacher.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_train, x_test = x_train[..., None], x_test[..., None]
    epochs = args.epochs
    if args.quick:
        x_train, y_train = x_train[:4000], y_train[:4000]
        x_test, y_test = x_test[:2000], y_test[:2000]
        epochs = 2
    if args.time_only:
        epochs = 2
    subset = args.subset or (6400 if args.time_only else None)
    if subset:
        x_train, y_train = x_train[:subset], y_train[:subset]

    if args.arch == "vgg":
        architecture = {
            "builder": "tools/teacher_models.py:build_teacher_vgg",
            "stage_filters": list(args.stage_filters),
            "convs_per_stage": args.convs_per_stage,
            "dropout": args.dropout,
        }
    else:
        architecture = {
            "builder": "tools/teacher_models.py:build_teacher_resnet",
            "width": args.width,
            "blocks": list(args.blocks),
            "base_filters": [32, 64, 128],
        }
    architecture["num_classes"] = NUM_CLASSES
    model = build_from_architecture(architecture)
    print(f"parameters: {model.count_params():,}", flush=True)
    steps_per_epoch = len(x_train) // args.batch_size
    warmup = int(round(args.warmup_epochs * steps_per_epoch))
    model.compile(
        optimizer=make_optimizer(
            epochs * steps_per_epoch, warmup, args.learning_rate, args.weight_decay
        ),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=args.label_smoothing
        ),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=False,
    )
    dataset = make_train_dataset(
        x_train, y_train, args.batch_size, args.seed, args.pad, args.erase_probability
    )
    quick_or_timing = args.quick or args.time_only
    backup = args.backup_dir.rstrip("/")
    timer = EpochRecord(
        weights_path=None if quick_or_timing else backup + "_latest.weights.h5",
        record_path=None if quick_or_timing else backup + "_epochs.json",
        command=command,
    )
    callbacks = [timer]
    if not quick_or_timing:
        callbacks.insert(0, keras.callbacks.BackupAndRestore(args.backup_dir))
    model.fit(dataset, epochs=epochs, callbacks=callbacks, verbose=2)
    train_seconds = time.perf_counter() - start

    if args.time_only:
        # The first epoch includes tracing; the second is the steady state.
        per_image = timer.seconds[-1] / (steps_per_epoch * args.batch_size)
        print(
            f"{args.arch} {architecture}: {model.count_params():,} "
            f"parameters, {timer.seconds[-1]:.1f} s for "
            f"{steps_per_epoch * args.batch_size} images -> "
            f"~{per_image * 60000:.0f} s per 60,000-image epoch",
            flush=True,
        )
        return

    plain, tta = evaluate_logits(model, x_test, y_test)
    print(
        f"test accuracy: plain {plain:.4f}, horizontal-flip TTA {tta:.4f}", flush=True
    )
    if args.flip_tta == "auto":
        flip_tta = plain < args.target <= tta
    else:
        flip_tta = args.flip_tta == "yes"

    output = args.output
    if args.quick:
        output = os.path.join(
            args.backup_dir.rstrip("/") + "_quick", os.path.basename(output)
        )
    os.makedirs(os.path.dirname(output), exist_ok=True)
    save_network_weights(model, architecture, output)
    seconds_per_epoch = [entry["seconds"] for entry in timer.epochs]
    earlier = seconds_per_epoch[: len(seconds_per_epoch) - len(timer.seconds)]
    earlier_seconds = sum(seconds or 0.0 for seconds in earlier)
    summary = {
        "architecture": {
            **architecture,
            "flip_tta": flip_tta,
            "input": "uint8 pixels, shape (N, 28, 28, 1); outputs logits",
        },
        "parameters": model.count_params(),
        "command": command,
        "epochs": epochs,
        "completed_epochs": len(timer.epochs),
        "parts": timer.parts(),
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "label_smoothing": args.label_smoothing,
        "warmup_epochs": args.warmup_epochs,
        "augmentation": {
            "shift_pad": args.pad,
            "horizontal_flip": True,
            "erase_probability": args.erase_probability,
        },
        "seed": args.seed,
        "train_samples": len(x_train),
        "test_samples": len(x_test),
        "test_accuracy": round(plain, 4),
        "test_accuracy_flip_tta": round(tta, 4),
        "shipped_accuracy": round(tta if flip_tta else plain, 4),
        "seconds": round(earlier_seconds + train_seconds),
        "seconds_this_command": round(train_seconds),
        "seconds_per_epoch": seconds_per_epoch,
    }
    with atomic_path(output + ".json", overwrite=True) as temporary_path:
        with open(temporary_path, "w") as file:
            json.dump(summary, file, indent=2)
    print(json.dumps(summary, indent=2))
    print(f"saved {output} and {output}.json", flush=True)


if __name__ == "__main__":
    main()
