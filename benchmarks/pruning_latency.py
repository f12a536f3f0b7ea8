"""Does unstructured pruning make a LiteRT model faster? Dense vs pruned, side by side.

Trains a CNN student briefly on the embedded Fashion-MNIST subset, prunes a
copy to 50% and to 90% sparsity with `kdkeras.optimize.prune`, exports all
three as float32 and int8 LiteRT files, and times them at batch 1
(`kdkeras.evaluation.measure_latency`, 1 thread) in interleaved rounds. Prints
the latency and gzipped-size ratios of each pruned file to its dense twin.

    python benchmarks/pruning_latency.py            # ~2 minutes
    python benchmarks/pruning_latency.py --quick
"""

import argparse
import os
import statistics
import tempfile

import keras
from result_files import write_result

import kdkeras
from kdkeras import evaluation, litert
from kdkeras.evaluation.sparsity import gzipped_size_bytes

SPARSITIES = (0.5, 0.9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test")
    parser.add_argument(
        "--result",
        default=None,
        help="result file (default benchmarks/results/pruning_latency.json; "
        "--quick writes none)",
    )
    args = parser.parse_args()
    rounds, num_runs = (2, 20) if args.quick else (7, 100)
    (x_train, y_train), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    x_train = x_train[:2000, ..., None] if args.quick else x_train[..., None]
    y_train = y_train[: len(x_train)]

    keras.utils.set_random_seed(0)
    # Big enough that convolutions, not per-call overhead, take the time.
    dense = kdkeras.models.build_cnn(
        filters=(32, 64), dense_units=128, pooling="flatten"
    )
    dense.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    dense.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
    models, real_sparsity = {"dense": dense}, {}
    for sparsity in SPARSITIES:
        result = kdkeras.optimize.prune(
            dense, (x_train, y_train), target_sparsity=sparsity, epochs=1
        )
        models[f"pruned {sparsity:.0%}"] = result.model
        real_sparsity[f"pruned {sparsity:.0%}"] = round(result.sparsity["overall"], 3)
        print(f"pruned {sparsity:.0%}: real sparsity {result.sparsity['overall']:.3f}")

    directory = tempfile.mkdtemp(prefix="kdkeras-pruning-")
    paths = {}
    for name, model in models.items():
        for quantization in ("float32", "int8"):
            path = os.path.join(
                directory, f"{name.replace(' ', '_')}_{quantization}.tflite"
            )
            paths[f"{name} {quantization}"] = kdkeras.export.export_litert(
                model, path, quantization, representative_data=x_train[:200]
            )
    runners = {
        name: litert.LiteRTModel(path, num_threads=1) for name, path in paths.items()
    }
    medians = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            medians[name].append(
                evaluation.measure_latency(runner, x_train[:1], num_runs=num_runs)[
                    "median_ms"
                ]
            )
    latency = {name: statistics.median(values) for name, values in medians.items()}

    print(f"\n{'file':<22} {'median ms':>10} {'gzipped KB':>11}")
    for name, path in paths.items():
        gzipped_kb = gzipped_size_bytes(path) / 1024
        print(f"{name:<22} {latency[name]:>10.4f} {gzipped_kb:>11.1f}")
    print(f"\n{'pruned / dense':<22} {'latency':>10} {'gzipped':>11}")
    for sparsity in SPARSITIES:
        for quantization in ("float32", "int8"):
            pruned, base = (
                f"pruned {sparsity:.0%} {quantization}",
                f"dense {quantization}",
            )
            gzipped_ratio = gzipped_size_bytes(paths[pruned]) / gzipped_size_bytes(
                paths[base]
            )
            print(
                f"{pruned:<22} {latency[pruned] / latency[base]:>10.2f} "
                f"{gzipped_ratio:>11.2f}"
            )

    if args.result or not args.quick:
        write_result(
            "pruning_latency",
            args.result,
            seeds=[0],
            rounds=rounds,
            runs_per_round=num_runs,
            sparsity=real_sparsity,
            files=[
                {
                    "file": name,
                    "median_ms": round(latency[name], 4),
                    "round_medians_ms": [round(v, 4) for v in medians[name]],
                    "gzipped_kb": round(gzipped_size_bytes(path) / 1024, 1),
                }
                for name, path in paths.items()
            ],
        )


if __name__ == "__main__":
    main()
