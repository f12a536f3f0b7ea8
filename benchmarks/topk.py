"""Top-k logit storage: bytes per example and the error it puts in the KD loss.

A teacher's logits are stored as the k largest, their class ids and the
log-sum-exp of the rest (`kdkeras.caches.topk`), and rebuilt with the
rest's mass spread evenly. For k = 1, 5, 10, 20 this measures

* the bytes per example: `6k + 4` by the formula, and on disk in a sharded
  cache (`kdkeras.caches.sharded_logits`, TFRecord framing included);
* the KD loss (`kdkeras.losses.kd_loss`, T = 1 and 4) of a student against
  the rebuilt teacher distribution, against the loss on the full logits:
  mean absolute difference per example, and relative to the mean full loss;

on two sets:

* Fashion-MNIST: the full 60,000 training images, the project's ResNet
  teacher (`tools/teacher_models.py: load_pretrained_teacher()`, 10 classes),
  and as student the 9k CNN trained on the labels for one epoch;
* a generated 1,000-class set: 20,000 examples around random class
  prototypes in 64 dimensions; the teacher's logits are scaled cosine
  similarities to the prototypes (neighbouring classes get mass, as in a real
  teacher), the student's come from noisier inputs and prototypes.

    python benchmarks/topk.py            # ~2 minutes on 2 cores
    python benchmarks/topk.py --quick    # 5,000 images, 5,000 generated rows
"""

import argparse
import os
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.join(REPO_ROOT, "tools"))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from result_files import command_line, write_result  # noqa: E402
from teacher_models import load_pretrained_teacher  # noqa: E402

import kdkeras  # noqa: E402
from kdkeras.caches import sharded_logits, topk  # noqa: E402
from kdkeras.models import build_cnn  # noqa: E402

TOP_KS = (1, 5, 10, 20)
TEMPERATURES = (1.0, 4.0)
SEED = 0


def fashion_mnist_logits(num_images, student_epochs):
    """`(teacher_logits, student_logits, teacher_seconds)` on the training set."""
    (x, y), _ = kdkeras.datasets.load_fashion_mnist()
    x, y = x[:num_images, ..., None], y[:num_images]
    teacher = load_pretrained_teacher()
    start = time.perf_counter()
    teacher_logits = teacher.predict(x, batch_size=256, verbose=0)
    teacher_seconds = time.perf_counter() - start
    keras.utils.set_random_seed(SEED)
    student = build_cnn(filters=(8, 16), dense_units=None, pooling="flatten")
    student.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    student.fit(x, y, batch_size=128, epochs=student_epochs, verbose=0)
    student_logits = student.predict(x, batch_size=1024, verbose=0)
    return teacher_logits, student_logits, teacher_seconds


def generated_logits(num_rows, num_classes=1000, dims=64, scale=12.0):
    """`(teacher_logits, student_logits)` of the generated 1,000-class set."""
    rng = np.random.default_rng(SEED)
    prototypes = normalize(rng.normal(size=(num_classes, dims)))
    labels = rng.integers(0, num_classes, num_rows)
    inputs = normalize(prototypes[labels] + 0.08 * rng.normal(size=(num_rows, dims)))
    teacher = scale * inputs @ prototypes.T
    student_prototypes = normalize(
        prototypes + 0.05 * rng.normal(size=prototypes.shape)
    )
    noisy = normalize(inputs + 0.08 * rng.normal(size=inputs.shape))
    student = scale * noisy @ student_prototypes.T
    return teacher.astype("float32"), student.astype("float32")


def normalize(rows):
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def kd_losses(teacher_logits, student_logits, temperature, chunk=4096):
    """Per-example `kdkeras.losses.kd_loss`, in chunks."""
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(
                kdkeras.losses.kd_loss(
                    teacher_logits[i : i + chunk],
                    student_logits[i : i + chunk],
                    temperature,
                )
            )
            for i in range(0, len(teacher_logits), chunk)
        ]
    )


def stored_logits(teacher_logits, directory, top_k):
    """Writes the logits as a sharded cache and reads them back (rebuilt).

    The "teacher" is an identity model over the logits themselves, so the
    stored bytes are those of `sharded_logits.cache_teacher_logits`.
    """
    identity = keras.Sequential(
        [keras.Input(teacher_logits.shape[1:]), keras.layers.Identity()]
    )
    manifest = sharded_logits.write_sharded_logits(
        identity, teacher_logits, directory, batch_size=256, top_k=top_k
    ).manifest
    dataset = sharded_logits.teacher_logits_dataset(directory, identity)
    rebuilt = np.concatenate(list(dataset.as_numpy_iterator()))
    on_disk = sum(shard["bytes"] for shard in manifest["shards"])
    return rebuilt, on_disk / manifest["num_examples"]


def soft_target_summary(teacher_logits):
    probabilities = keras.ops.convert_to_numpy(
        keras.ops.softmax(teacher_logits[:4096], axis=-1)
    )
    top1 = probabilities.max(axis=-1).mean()
    entropy = -(probabilities * np.log(np.maximum(probabilities, 1e-30))).sum(-1)
    effective = np.exp(entropy).mean()
    return (
        f"mean top-1 probability {top1:.3f}, effective classes exp(H) {effective:.1f}"
    )


def measure(name, teacher_logits, student_logits, workdir):
    num_classes = teacher_logits.shape[-1]
    print(
        f"\n{name}: {len(teacher_logits)} examples, {num_classes} classes; teacher: "
        f"{soft_target_summary(teacher_logits)}"
    )
    full_losses = {
        t: kd_losses(teacher_logits, student_logits, t) for t in TEMPERATURES
    }
    _, full_disk = stored_logits(
        teacher_logits, os.path.join(workdir, name + "-full"), None
    )
    header = (
        "| k | bytes/example (6k + 4) | on disk | vs full | "
        + " | ".join(f"T = {t:g}: mean abs diff | relative" for t in TEMPERATURES)
        + " |"
    )
    print(header)
    print("|" + "---|" * (4 + 2 * len(TEMPERATURES)))
    measured = {
        "set": name,
        "examples": len(teacher_logits),
        "classes": num_classes,
        "teacher": soft_target_summary(teacher_logits),
        "full": {
            "bytes_per_example": topk.bytes_per_row(num_classes),
            "on_disk": round(full_disk, 1),
            "kd_loss": {f"{t:g}": float(full_losses[t].mean()) for t in TEMPERATURES},
        },
        "top_k": [],
    }
    print(
        f"| full | {topk.bytes_per_row(num_classes)} | {full_disk:.1f} | 1 | "
        + " | ".join(f"0 (KD {full_losses[t].mean():.4f}) | 0" for t in TEMPERATURES)
        + " |"
    )
    for k in TOP_KS:
        if k > num_classes:
            print(
                f"| {k} | — (k > {num_classes} classes) | | | "
                + " | ".join("|" for _ in TEMPERATURES)
            )
            continue
        rebuilt, disk = stored_logits(
            teacher_logits, os.path.join(workdir, f"{name}-top{k}"), k
        )
        cells, errors = [], {}
        for t in TEMPERATURES:
            difference = np.abs(kd_losses(rebuilt, student_logits, t) - full_losses[t])
            relative = difference.mean() / full_losses[t].mean()
            cells.append(f"{difference.mean():.2e} | {relative:.2e}")
            errors[f"{t:g}"] = {
                "mean_abs_diff": float(difference.mean()),
                "relative": float(relative),
            }
        measured["top_k"].append(
            {
                "k": k,
                "bytes_per_example": topk.bytes_per_row(num_classes, k),
                "on_disk": round(disk, 1),
                "vs_full": round(disk / full_disk, 3),
                "kd_loss_error": errors,
            }
        )
        print(
            f"| {k} | {topk.bytes_per_row(num_classes, k)} | {disk:.1f} | "
            f"{disk / full_disk:.3f} | " + " | ".join(cells) + " |",
            flush=True,
        )
    return measured


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows per set")
    parser.add_argument("--student-epochs", type=int, default=1)
    parser.add_argument(
        "--result",
        default=None,
        help="result file (default benchmarks/results/topk.json; --quick writes none)",
    )
    args = parser.parse_args(argv)
    images, rows = (5000, 5000) if args.quick else (60000, 20000)
    started = time.perf_counter()
    print(
        f"kdkeras {kdkeras.__version__}, keras {keras.__version__} "
        f"({keras.backend.backend()}), numpy {np.__version__}"
    )
    teacher, student, seconds = fashion_mnist_logits(images, args.student_epochs)
    print(
        f"ResNet teacher forward pass: {images} images in {seconds:.1f} s "
        f"({images / seconds:.0f} images/s)"
    )
    with tempfile.TemporaryDirectory() as workdir:
        sets = [
            measure("fashion-mnist", teacher, student, workdir),
            measure("generated-1000", *generated_logits(rows), workdir),
        ]
    print(f"\ntotal runtime {time.perf_counter() - started:.0f} s")
    if args.result or not args.quick:
        write_result(
            "topk",
            args.result,
            command=command_line(__file__, argv),
            seeds=[SEED],
            seconds=round(time.perf_counter() - started),
            teacher_forward_seconds=round(seconds, 1),
            sets=sets,
        )


if __name__ == "__main__":
    main()
