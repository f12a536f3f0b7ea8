"""Latency at batch 1 of a `.tflite` model or a Keras model."""

import statistics
import time

import numpy as np

from kdkeras.evaluation.model_kinds import model_kind
from kdkeras.progress import check_verbose, print_step, progress_bar
from kdkeras.validation import check_count, check_positive_int


def measure_latency(
    model, example=None, num_runs=100, warmup=10, num_threads=None, verbose=0
):
    """Times single-example inferences and summarizes them in milliseconds.

    What is timed, with `time.perf_counter`:

    * for a `.tflite` path or a `LiteRTModel`: `invoke()` of the interpreter
      alone. The example is quantized (or cast) and copied into the input
      tensor once, before the runs; reading the outputs is not timed.
    * for a `keras.Model`: a call of `model(x, training=False)` wrapped in a
      `tf.function` (traced during the warm-up) with the TensorFlow backend,
      a plain call with the others, on a tensor made once before the runs,
      followed by the conversion of the output to NumPy (which waits for the
      result).

    Example:

    ```python
    float32 = measure_latency("student_float32.tflite", num_threads=1)
    int8 = measure_latency("student_int8.tflite", num_threads=1)
    float32["median_ms"] / int8["median_ms"]   # the int8 speed-up
    ```

    Args:
        model: The path of a `.tflite` file, a `LiteRTModel` or a
            `keras.Model` with one input.
        example: One input, of shape `input_shape[1:]` or `(1,) +
            input_shape[1:]`. Defaults to uniform random values in [0, 1)
            (seed 0): latency does not depend on the values.
        num_runs: Number of timed runs, a positive integer.
        warmup: Number of untimed runs before them.
        num_threads: Threads of the LiteRT interpreter; a `LiteRTModel` with
            other threads is loaded again from its file. `None` keeps the
            model's (LiteRT's default for a path). Must be `None` for a Keras
            model: TensorFlow's threads are set once per process, with
            `tf.config.threading.set_intra_op_parallelism_threads`.
        verbose: As in Keras (see `kdkeras.progress`): `0` (the default) is
            silent, `1` shows a `keras.utils.Progbar` of the timed runs, `2`
            prints one line when they are done, e.g. `student_int8: timed
            100 batch-1 runs: median 0.042 ms, p90 0.047 ms (0.1 s)`.

    Returns:
        A `dict` with `median_ms`, `p90_ms` (90th percentile, linear
        interpolation), `mean_ms`, `min_ms`, `num_runs` and `num_threads`
        (the interpreter's, or TensorFlow's intra-op threads for a Keras
        model; `None` for the runtime's default).
    """
    check_positive_int(num_runs, "num_runs")
    check_count(warmup, "warmup")
    verbose = check_verbose(verbose)
    kind = model_kind(model, num_threads=num_threads)
    return time_kind(kind, example, num_runs, warmup, verbose)


def time_kind(kind, example, num_runs, warmup, verbose=0):
    """`measure_latency` of a `kdkeras.evaluation.model_kinds.ModelKind`,
    whose arguments are checked."""
    run, threads = kind.latency_runner(example)
    started = time.perf_counter()
    for _ in range(warmup):
        run()
    bar = progress_bar(num_runs, verbose, unit_name="run")
    times = np.empty(num_runs)
    for index in range(num_runs):
        start = time.perf_counter()
        run()
        times[index] = time.perf_counter() - start
        if bar is not None:
            bar.update(index + 1)  # After the clock stopped: not timed.
    times *= 1000.0
    latency = {
        "median_ms": float(np.median(times)),
        "p90_ms": float(np.percentile(times, 90)),
        "mean_ms": float(statistics.fmean(times)),
        "min_ms": float(times.min()),
        "num_runs": int(num_runs),
        "num_threads": threads,
    }
    if verbose == 2:
        print_step(
            kind.name,
            f"timed {describe_latency(latency)} "
            f"({time.perf_counter() - started:.1f} s)",
        )
    return latency


def describe_latency(latency):
    """`latency` (of `measure_latency`) in words, for progress lines.

    For example `"100 batch-1 runs: median 0.042 ms, p90 0.047 ms"`.
    """
    return (
        f"{latency['num_runs']} batch-1 runs: median {latency['median_ms']:.3f} ms, "
        f"p90 {latency['p90_ms']:.3f} ms"
    )
