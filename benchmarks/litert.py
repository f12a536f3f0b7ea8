"""LiteRT latency and size: float32 vs int8, teacher vs student.

Measures, in one run and side by side, the batch-1 latency (median of the
interpreter's `invoke()`, `kdkeras.evaluation.measure_latency`) and the file size
of `.tflite` conversions of

* a teacher CNN, `build_cnn(filters=(64, 128, 256), dense_units=256)`, float32
  and int8 (the heaviest standard-convolution model here);
* the demo's student, `build_cnn(filters=(8, 16), pooling="flatten")` (9k
  parameters), float32 and int8 (int8 inputs and outputs);
* a small student, `build_cnn(filters=(16, 32), dense_units=32)`, likewise;
* a conv student, `build_cnn(filters=(32, 64), dense_units=128,
  pooling="flatten")` (420k parameters), where standard convolutions
  dominate the time rather than the per-call overhead;
* MobileNetV2 (alpha 0.5) at 96x96x3, float32 and int8, untrained (its weights
  do not change its cost): depthwise convolutions;

plus the Keras teacher and small student (a traced `model(x, training=False)`).
The teacher and the small student are trained briefly on the embedded
Fashion-MNIST subset, so that their accuracies and the int8 agreement mean
something. The timings are repeated in interleaved rounds (every variant once
per round) so that drifts of the shared machine hit all variants alike; the
median over rounds of each variant's median is reported.

    python benchmarks/litert.py            # ~2-3 minutes
    python benchmarks/litert.py --quick    # smoke test
"""

import argparse
import datetime
import os
import platform
import statistics
import tempfile

import keras
import numpy as np
import tensorflow as tf
from result_files import write_result

import kdkeras
from kdkeras import evaluation, litert

SPEEDUP_GOAL = 3.0
SIZE_RATIO_GOAL = 0.27


def export_litert(model, path, quantization, representative_data=None):
    """int8 files get int8 inputs and outputs, as a microcontroller wants."""
    return kdkeras.export.export_litert(
        model,
        path,
        quantization=kdkeras.export.Quantization(
            quantization, integer_io=quantization == "int8"
        ),
        representative_data=representative_data,
        overwrite=True,
    )


def train(model, x, y, epochs):
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model


def mobilenet_student():
    return keras.applications.MobileNetV2(
        input_shape=(96, 96, 3),
        alpha=0.5,
        weights=None,
        classes=10,
        classifier_activation=None,
    )


def to_rgb96(images):
    """uint8 28x28x1 images to float 96x96x3 in [0, 1], for MobileNetV2."""
    resized = tf.image.resize(images.astype("float32") / 255.0, (96, 96))
    return np.repeat(resized.numpy(), 3, axis=-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads")
    parser.add_argument(
        "--result",
        default=None,
        help="result file (default benchmarks/results/litert.json; --quick "
        "writes none)",
    )
    args = parser.parse_args()
    rounds, num_runs, epochs, calibration = (
        (2, 10, 1, 20) if args.quick else (7, 40, 1, 200)
    )
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = (
        kdkeras.datasets.load_embedded_fashion_mnist()
    )
    x_train, x_test = x_train[..., None], x_test[..., None]
    if args.quick:
        x_train, y_train = x_train[:2000], y_train[:2000]

    cnn_configs = {
        "teacher": dict(filters=(64, 128, 256), dense_units=256),
        "student": dict(filters=(16, 32), dense_units=32, pooling="flatten"),
        "demo student": dict(filters=(8, 16), dense_units=None, pooling="flatten"),
        "conv student": dict(filters=(32, 64), dense_units=128, pooling="flatten"),
    }
    cnns = {
        name: train(kdkeras.models.build_cnn(**config), x_train, y_train, epochs)
        for name, config in cnn_configs.items()
    }
    teacher, student = cnns["teacher"], cnns["student"]
    mobilenet = mobilenet_student()
    mobilenet_calibration = to_rgb96(x_train[:calibration])

    directory = tempfile.mkdtemp(prefix="kdkeras-litert-")
    paths = {}
    conversions = [
        (f"{name} {quantization}", model, quantization, calibration_images)
        for name, model, calibration_images in [
            *[(name, cnn, x_train[:calibration]) for name, cnn in cnns.items()],
            ("mobilenet", mobilenet, mobilenet_calibration),
        ]
        for quantization in ("float32", "int8")
    ]
    for name, model, quantization, data in conversions:
        path = os.path.join(directory, name.replace(" ", "_") + ".tflite")
        paths[name] = export_litert(model, path, quantization, data)

    print(f"# kdkeras LiteRT benchmark, {datetime.date.today()}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"TF {tf.__version__}, Keras {keras.__version__}, "
        f"interpreter threads: {args.threads}"
    )
    rows = []
    for name, keras_model in cnns.items():
        row = evaluation.evaluate_model(
            keras_model, x_test, y_test, name=f"{name} Keras"
        )
        rows.append(row)
        for variant in ("float32", "int8"):
            key = f"{name} {variant}"
            if key in paths:
                rows.append(
                    evaluation.evaluate_model(
                        paths[key],
                        x_test,
                        y_test,
                        name=f"{key} LiteRT",
                        parameters=row["parameters"],
                    )
                )
    print(evaluation.format_table(rows))
    agreement = litert.compare_with_keras(
        student, paths["student int8"], x_test, verbose=0
    )
    print(
        f"student int8 vs Keras: top-1 agreement {agreement['top1_agreement']:.4f}, "
        f"max |logit diff| {agreement['max_abs_diff']:.3f}"
    )

    runners = {
        name: litert.LiteRTModel(path, num_threads=args.threads)
        for name, path in paths.items()
    }
    runners["teacher Keras"] = teacher
    runners["student Keras"] = student
    medians = {name: [] for name in runners}
    p90s = {name: [] for name in runners}
    for _ in range(rounds):
        for name, model in runners.items():
            result = evaluation.measure_latency(model, num_runs=num_runs, warmup=5)
            medians[name].append(result["median_ms"])
            p90s[name].append(result["p90_ms"])
    latency = {name: statistics.median(values) for name, values in medians.items()}

    print(f"\nbatch-1 latency, {rounds} interleaved rounds x {num_runs} runs")
    print(f"{'variant':<20} {'size':>10} {'median ms':>10} {'p90 ms':>8}")
    for name in runners:
        size = (
            evaluation.format_size(os.path.getsize(paths[name]))
            if name in paths
            else "-"
        )
        p90 = statistics.median(p90s[name])
        print(f"{name:<20} {size:>10} {latency[name]:>10.3f} {p90:>8.3f}")

    print("\nratio                                       measured   goal")
    for model in (*cnns, "mobilenet"):
        speedup = latency[f"{model} float32"] / latency[f"{model} int8"]
        size_ratio = os.path.getsize(paths[f"{model} int8"]) / os.path.getsize(
            paths[f"{model} float32"]
        )
        print(f"{model + ' float32/int8 latency':<43} {speedup:>8.2f}x  >= 3x")
        print(f"{model + ' int8/float32 size':<43} {size_ratio:>9.3f}  <= 0.27")
    for kind, teacher_key, student_key in [
        ("LiteRT", "teacher float32", "student int8"),
        ("LiteRT", "teacher float32", "demo student int8"),
        ("LiteRT", "teacher float32", "student float32"),
        ("Keras", "teacher Keras", "student Keras"),
    ]:
        ratio = latency[teacher_key] / latency[student_key]
        label = f"{kind} {teacher_key} / {student_key}"
        print(f"{label:<43} {ratio:>8.2f}x")
    spread = max(
        max(values) / min(values) for values in medians.values() if min(values) > 0
    )
    print(f"\nlargest max/min of round medians of one variant: {spread:.2f}")
    if args.result or not args.quick:
        accuracy = {row["name"]: row["accuracy"] for row in rows}
        models = []
        for model in (*cnns, "mobilenet"):
            entry = {"model": model}
            if f"{model} Keras" in accuracy:
                entry["parameters"] = cnns[model].count_params()
            else:
                entry["parameters"] = mobilenet.count_params()
            for variant in ("float32", "int8"):
                size = os.path.getsize(paths[f"{model} {variant}"])
                entry[variant] = {
                    "size_bytes": size,
                    "size": evaluation.format_size(size),
                    "ms": round(latency[f"{model} {variant}"], 4),
                    "round_medians_ms": [
                        round(value, 4) for value in medians[f"{model} {variant}"]
                    ],
                    "accuracy": accuracy.get(f"{model} {variant} LiteRT"),
                }
            entry["size_ratio"] = round(
                entry["int8"]["size_bytes"] / entry["float32"]["size_bytes"], 3
            )
            entry["speedup"] = round(entry["float32"]["ms"] / entry["int8"]["ms"], 2)
            models.append(entry)
        write_result(
            "litert",
            args.result,
            seeds=[0],
            threads=args.threads,
            rounds=rounds,
            runs_per_round=num_runs,
            models=models,
            ratios={
                "LiteRT teacher float32 / student int8": latency["teacher float32"]
                / latency["student int8"],
                "LiteRT teacher float32 / demo student int8": latency["teacher float32"]
                / latency["demo student int8"],
                "LiteRT teacher float32 / student float32": latency["teacher float32"]
                / latency["student float32"],
                "Keras teacher / student (traced call)": latency["teacher Keras"]
                / latency["student Keras"],
            },
            student_int8_agreement=agreement["top1_agreement"],
            largest_round_spread=round(spread, 2),
        )


if __name__ == "__main__":
    main()
