"""Which LiteRT runner times the report: the `Interpreter` or `CompiledModel`.

`ai_edge_litert` 2.3 has two ways to run a `.tflite` file on the CPU: the
`Interpreter` (`kdkeras.litert.LiteRTModel`, the runner of every latency
kdkeras reports) and the newer `CompiledModel` API (`from_file`, tensor
buffers, `run_by_index`). This benchmark times both, side by side, on the
demo's files: its student (`build_cnn(filters=(8, 16), pooling="flatten")`)
and its teacher (MobileNetV2, width 0.35, 48×48 RGB), float32 and int8, with
1 and 2 threads. Each timing is the median of `--runs` batch-1 inferences
after 10 % warm-up runs (`time.perf_counter` around the one call that runs
the model; the input is written once, before); the two runners alternate in
`--rounds` rounds, and the median over rounds is reported, so that drifts of
a shared machine hit both alike. The ratio is interpreter time over
compiled-model time: above 1, `CompiledModel` is faster.

    python benchmarks/litert_runtimes.py            # ~1-2 minutes
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import kdkeras
from kdkeras.export import Quantization, export_litert
from kdkeras.litert import LiteRTModel

TEACHER_WEIGHTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "saved_models",
    "pretrained",
    "mobilenet_v2_0.35_48px_fashion_mnist.weights.h5",
)


def models():
    """`{name: (Keras model, inputs)}`: the demo's student and its trained
    teacher (`saved_models/pretrained/`), with real inputs as each takes them
    (embedded Fashion-MNIST; the teacher's through the demo's 48×48 RGB
    view), to calibrate the int8 files and to time on."""
    (x_train, _), _ = kdkeras.datasets.load_embedded_fashion_mnist()
    images = x_train[:64, ..., None].astype("float32")
    student = kdkeras.models.build_cnn(
        filters=(8, 16), dense_units=None, pooling="flatten", name="student"
    )
    teacher = kdkeras.models.build_teacher(
        "mobilenet_v2",
        10,
        (48, 48, 3),
        weights=TEACHER_WEIGHTS,
        width=0.35,
        name="teacher",
    )
    view = kdkeras.layers.ImageView(
        size=(48, 48), channels=3, preprocessing="mobilenet_v2"
    )
    return {
        "demo student": (student, images),
        "demo teacher": (teacher, np.asarray(view(images))),
    }


def compiled_runner(path, example, num_threads):
    """A function that runs `path` once with `CompiledModel` on `example`."""
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.cpu_options import CpuOptions
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import Options

    options = Options(
        HardwareAccelerator.CPU, cpu_options=CpuOptions(num_threads=num_threads)
    )
    model = CompiledModel.from_file(path, options=options)
    inputs = model.create_input_buffers(0)
    outputs = model.create_output_buffers(0)
    inputs[0].write(np.ascontiguousarray(example).ravel())
    return lambda: model.run_by_index(0, inputs, outputs)


def interpreter_runner(path, example, num_threads):
    model = LiteRTModel(path, num_threads=num_threads)
    model.set_input(example)
    return model.invoke


def median_ms(run, num_runs):
    for _ in range(max(1, num_runs // 10)):
        run()
    times = []
    for _ in range(num_runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", help="the result file (else benchmarks/results/)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    directory = tempfile.mkdtemp()
    runs = []
    for name, (model, calibration) in models().items():
        for scheme in ("float32", "int8"):
            path = os.path.join(directory, f"{model.name}_{scheme}.tflite")
            export_litert(
                model,
                path,
                quantization=Quantization(scheme),
                representative_data=calibration,
            )
            example = calibration[:1]
            for num_threads in (1, 2):
                runners = {
                    "interpreter": interpreter_runner(path, example, num_threads),
                    "compiled_model": compiled_runner(path, example, num_threads),
                }
                rounds = {runner: [] for runner in runners}
                for _ in range(args.rounds):
                    for runner, run in runners.items():
                        rounds[runner].append(median_ms(run, args.runs))
                timing = {runner: statistics.median(t) for runner, t in rounds.items()}
                runs.append(
                    {
                        "model": name,
                        "file": scheme,
                        "num_threads": num_threads,
                        "interpreter_ms": round(timing["interpreter"], 4),
                        "compiled_model_ms": round(timing["compiled_model"], 4),
                        "ratio": round(
                            timing["interpreter"] / timing["compiled_model"], 3
                        ),
                    }
                )
                print(runs[-1], flush=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from result_files import write_result

    return write_result(
        "litert_runtimes",
        args.output,
        seeds=[0],
        seconds=round(time.perf_counter() - start),
        runs_per_timing=args.runs,
        rounds=args.rounds,
        runs=runs,
    )


if __name__ == "__main__":
    main()
