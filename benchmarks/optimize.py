"""Int8 and sparse students: PTQ, QAT and pruning, with and without distillation.

On Fashion-MNIST (60,000 training / 10,000 test images,
`kdkeras.datasets.load_fashion_mnist()`), one run measures:

* the teacher: the demo's MobileNetV2 (`examples/demo.py`, fine-tuned from
  `saved_models/pretrained/...weights.h5`) when that file exists, else a CNN
  teacher trained here, `build_cnn(filters=(32, 64, 128), dense_units=128,
  dropout=0.3)`; the run prints which. Its logits are computed once
  (`kdkeras.caches.compute_teacher_logits`) and used by every distillation
  below.
* the float student, the demo's 9k-parameter CNN, distilled with
  `kdkeras.Distiller` (Adam 3e-3 with cosine decay, batch 64, alpha 0.1,
  T 2);
* its int8 post-training quantization (`kdkeras.export.export_litert(...,
  quantization="int8")`, calibrated on 200 training images);
* QAT of the float student to int8 without a teacher, and with distillation
  (`kdkeras.optimize.quantize_aware`, Adam 1e-4), exported with
  `kdkeras.optimize.save_qat_for_device`;
* magnitude pruning of the float student to 50/75/90% sparsity, without and
  with distillation (`kdkeras.optimize.prune`, Adam 5e-4): the stripped
  Keras 3 model's accuracy, its measured kernel sparsity and gzipped weights;
* the 75%-pruned distilled student, then QAT with distillation, which keeps
  its zeros (`preserve_sparsity="auto"`): a sparse int8 file.

Every int8 accuracy is measured with the LiteRT interpreter on the test set;
"agreement" is the top-1 agreement of the int8 file with the float model it
came from (`kdkeras.litert.compare_with_keras`).

    python benchmarks/optimize.py           # full data, 6-8 min on 2 CPU cores
    python benchmarks/optimize.py --quick   # embedded subset, few steps, ~1 min

Measured: 461 s and 375 s with the MobileNetV2 teacher (2026-11-23, -28).
"""

import argparse
import importlib.util
import math
import os
import sys
import tempfile
import time

import keras
from result_files import write_result

import kdkeras
from kdkeras import evaluation, litert, optimize
from kdkeras.datasets import FASHION_MNIST_CLASS_NAMES

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPARSITIES = (0.5, 0.75, 0.9)
PRUNE_THEN_QAT = 0.75
ALPHA = 0.1
TEMPERATURE = 2.0
STUDENT_ARCHITECTURE = dict(filters=(8, 16), dense_units=None, pooling="flatten")
STUDENT_LEARNING_RATE = 3e-3
CNN_TEACHER_LEARNING_RATE = 2e-3
QAT_LEARNING_RATE = 1e-4
PRUNE_LEARNING_RATE = 5e-4
NUM_CALIBRATION_EXAMPLES = 200
QUICK_SIZES = (2000, 1000)
COLUMNS = (
    ("model", "{}"),
    ("accuracy", "{:.2%}"),
    ("measured with", "{}"),
    ("agreement", "{:.2%}"),
    ("sparsity", "{:.1%}"),
    ("size", "{}"),
    ("gzipped", "{}"),
    ("train s", "{:.0f}"),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="A smoke test.")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--student-epochs", type=int, default=8)
    parser.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help="CNN teacher: epochs (default 3); MobileNetV2: epochs of each "
        "fine-tuning stage (default 1).",
    )
    parser.add_argument("--qat-epochs", type=int, default=2)
    parser.add_argument("--prune-epochs", type=int, default=2)
    parser.add_argument(
        "--result",
        default=None,
        help="result file (default benchmarks/results/optimize.json; --quick "
        "writes none)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.teacher_epochs = args.student_epochs = 2
        args.qat_epochs = args.prune_epochs = 1
    return args


def load_data(quick):
    if quick:
        (x_train, y_train), (x_test, y_test) = (
            kdkeras.datasets.load_embedded_fashion_mnist()
        )
        num_train, num_test = QUICK_SIZES
        x_train, y_train = x_train[:num_train], y_train[:num_train]
        x_test, y_test = x_test[:num_test], y_test[:num_test]
    else:
        (x_train, y_train), (x_test, y_test) = kdkeras.datasets.load_fashion_mnist()
    return (x_train[..., None], y_train), (x_test[..., None], y_test)


def adam_with_cosine_decay(learning_rate, epochs, batch_size, num_examples):
    steps = epochs * math.ceil(num_examples / batch_size)
    return keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    )


def load_demo():
    """`examples/demo.py` as a module, for its MobileNetV2 teacher recipe."""
    spec = importlib.util.spec_from_file_location(
        "kdkeras_demo", os.path.join(REPO_ROOT, "examples", "demo.py")
    )
    demo = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = demo
    spec.loader.exec_module(demo)
    return demo


def train_teacher(train, epochs, seed):
    """The demo's MobileNetV2 teacher if its weights exist, else a CNN."""
    demo = load_demo()
    if os.path.exists(demo.PRETRAINED_BACKBONE):
        print(f"Teacher: MobileNetV2 fine-tuned from {demo.PRETRAINED_BACKBONE}")
        num_validation = min(1000, len(train[0]) // 10)
        teacher = demo.fine_tune_teacher(
            (train[0][:-num_validation], train[1][:-num_validation]),
            (train[0][-num_validation:], train[1][-num_validation:]),
            demo.PRETRAINED_BACKBONE,
            epochs or 1,
            128,
            seed,
        )
        view = demo.build_teacher_view()
        return demo.with_view(teacher, view, train[0].shape[1:]), "MobileNetV2 0.35"
    print(f"Teacher: CNN trained here ({demo.PRETRAINED_BACKBONE} is missing)")
    epochs = epochs or 3
    keras.utils.set_random_seed(seed)
    teacher = kdkeras.models.build_cnn(
        filters=(32, 64, 128), dense_units=128, dropout=0.3, name="teacher"
    )
    teacher.compile(
        adam_with_cosine_decay(CNN_TEACHER_LEARNING_RATE, epochs, 128, len(train[0])),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    teacher.fit(*train, epochs=epochs, batch_size=128, verbose=2)
    return teacher, "CNN (32, 64, 128)"


def distill_student(train, teacher_logits, epochs, seed):
    keras.utils.set_random_seed(seed + 1)
    student = kdkeras.models.build_cnn(name="student", **STUDENT_ARCHITECTURE)
    distiller = kdkeras.Distiller(teacher=None, student=student)
    distiller.compile(
        optimizer=adam_with_cosine_decay(
            STUDENT_LEARNING_RATE, epochs, 64, len(train[0])
        ),
        metrics=["accuracy"],
        alpha=ALPHA,
        temperature=TEMPERATURE,
    )
    dataset = kdkeras.caches.offline_dataset(
        *train, teacher_logits, batch_size=64, seed=seed
    )
    distiller.fit(dataset, epochs=epochs, verbose=2)
    return distiller.student


def keras_row(name, model, test, seconds, sparsity=None):
    row = evaluation.evaluate_model(model, *test)
    return {
        "model": name,
        "accuracy": row["accuracy"],
        "measured with": "Keras",
        "sparsity": sparsity,
        "size": evaluation.format_size(row["size_bytes"]),
        "gzipped": evaluation.format_size(row["gzipped_bytes"]),
        "train s": seconds,
    }


def int8_row(name, path, accuracy, agreement, seconds, sparsity=None):
    return {
        "model": name,
        "accuracy": accuracy,
        "measured with": "LiteRT int8",
        "agreement": agreement,
        "sparsity": sparsity,
        "size": evaluation.format_size(os.path.getsize(path)),
        "gzipped": evaluation.format_size(optimize.gzipped_size_bytes(path)),
        "train s": seconds,
    }


def qat_row(name, student, train, test, teacher_logits, epochs, seed, directory):
    start = time.perf_counter()
    result = optimize.quantize_aware(
        student,
        train,
        teacher_logits=teacher_logits,
        epochs=epochs,
        learning_rate=QAT_LEARNING_RATE,
        alpha=ALPHA,
        temperature=TEMPERATURE,
        seed=seed,
    )
    seconds = time.perf_counter() - start
    saved = optimize.save_qat_for_device(
        result,
        directory,
        FASHION_MNIST_CLASS_NAMES,
        check_data=test,
    )
    check = saved["check"]
    return int8_row(
        name,
        saved["tflite"],
        check["accuracy"],
        check["top1_agreement"],
        seconds,
        # The fine-tuned float weights: a pruned student's zeros are kept.
        sparsity=optimize.sparsity_report(result.keras_model)["overall"],
    )


def prune_row(name, student, train, test, teacher_logits, sparsity, epochs, seed):
    start = time.perf_counter()
    result = optimize.prune(
        student,
        train,
        target_sparsity=sparsity,
        epochs=epochs,
        teacher_logits=teacher_logits,
        learning_rate=PRUNE_LEARNING_RATE,
        alpha=ALPHA,
        temperature=TEMPERATURE,
        seed=seed,
    )
    seconds = time.perf_counter() - start
    row = keras_row(
        name, result.model, test, seconds, sparsity=result.sparsity["overall"]
    )
    return row, result.model


def format_markdown(rows):
    header = "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    lines = [header, "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [
            "-" if row.get(name) is None else template.format(row[name])
            for name, template in COLUMNS
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    train, test = load_data(args.quick)
    print(f"Fashion-MNIST: {len(train[0])} training, {len(test[0])} test images.")
    rows = []

    step = time.perf_counter()
    teacher, teacher_name = train_teacher(train, args.teacher_epochs, args.seed)
    rows.append(
        keras_row(f"teacher: {teacher_name}", teacher, test, time.perf_counter() - step)
    )
    teacher_logits = kdkeras.caches.compute_teacher_logits(teacher, train[0])

    step = time.perf_counter()
    student = distill_student(train, teacher_logits, args.student_epochs, args.seed)
    rows.append(
        keras_row(
            "student float (distilled)", student, test, time.perf_counter() - step
        )
    )

    with tempfile.TemporaryDirectory() as directory:
        path = kdkeras.export.export_litert(
            student,
            os.path.join(directory, "student_ptq_int8.tflite"),
            quantization=kdkeras.export.Quantization(
                "int8", num_calibration_examples=NUM_CALIBRATION_EXAMPLES
            ),
            representative_data=train[0],
        )
        rows.append(
            int8_row(
                "student int8, post-training quantization",
                path,
                evaluation.evaluate_model(path, *test)["accuracy"],
                litert.compare_with_keras(student, path, test[0], verbose=0)[
                    "top1_agreement"
                ],
                0.0,
            )
        )
        for name, logits in (("QAT", None), ("QAT + distillation", teacher_logits)):
            rows.append(
                qat_row(
                    f"student int8, {name}",
                    student,
                    train,
                    test,
                    logits,
                    args.qat_epochs,
                    args.seed,
                    os.path.join(directory, name.replace(" ", "")),
                )
            )
        pruned = {}
        for sparsity in SPARSITIES:
            for name, logits in (("", None), (" + distillation", teacher_logits)):
                row, pruned[sparsity, name] = prune_row(
                    f"student pruned {sparsity:.0%}{name}",
                    student,
                    train,
                    test,
                    logits,
                    sparsity,
                    args.prune_epochs,
                    args.seed,
                )
                rows.append(row)
        # Pruned, then quantized: prune-preserving QAT keeps the zeros.
        rows.append(
            qat_row(
                f"student pruned {PRUNE_THEN_QAT:.0%} + distillation, then int8 "
                "QAT + distillation",
                pruned[PRUNE_THEN_QAT, " + distillation"],
                train,
                test,
                teacher_logits,
                args.qat_epochs,
                args.seed,
                os.path.join(directory, "pruned_qat"),
            )
        )

    command = "python benchmarks/optimize.py" + (" --quick" if args.quick else "")
    print(
        f"\n{command}  ({len(train[0])} training / {len(test[0])} test images; "
        f"epochs: student {args.student_epochs}, QAT {args.qat_epochs}, pruning "
        f"{args.prune_epochs}; {time.perf_counter() - start:.0f} s in all)\n"
    )
    print(format_markdown(rows))
    if args.result or not args.quick:
        write_result(
            "optimize",
            args.result,
            seeds=[args.seed],
            seconds=round(time.perf_counter() - start),
            images={"train": len(train[0]), "test": len(test[0])},
            epochs={
                "teacher": args.teacher_epochs,
                "student": args.student_epochs,
                "qat": args.qat_epochs,
                "pruning": args.prune_epochs,
            },
            rows=[{**row, "train s": round(row["train s"])} for row in rows],
        )


if __name__ == "__main__":
    main()
