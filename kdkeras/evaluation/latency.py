"""Latency at batch 1 of a `.tflite` model or a Keras model."""

import os
import statistics
import time

import keras
import numpy as np

from kdkeras.litert.litert_model import LiteRTModel
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
    if isinstance(model, keras.Model):
        if num_threads is not None:
            raise ValueError(
                "`num_threads` must be None for a Keras model: TensorFlow's threads "
                "are set once per process with "
                "`tf.config.threading.set_intra_op_parallelism_threads`. "
                f"Received: num_threads={num_threads!r}"
            )
        run, threads = _keras_runner(model, example)
        name = model.name
    else:
        run, threads, name = _litert_runner(model, example, num_threads)
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
            name,
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


def _litert_runner(model, example, num_threads):
    if isinstance(model, (str, bytes, os.PathLike)):
        model = LiteRTModel(model, num_threads=num_threads)
    elif not isinstance(model, LiteRTModel):
        raise ValueError(
            "`model` must be the path of a .tflite file, a LiteRTModel or a "
            f"keras.Model. Received: model of type {type(model).__name__}"
        )
    elif num_threads is not None and num_threads != model.num_threads:
        model = LiteRTModel(model.path, num_threads=num_threads)
    example = _single_example(example, model.input_shape)
    model.set_input(example)
    return model.invoke, model.num_threads, model.name


def _keras_runner(model, example):
    if len(model.inputs) != 1:
        raise ValueError(
            "`model` must have one input. Received: a model with "
            f"{len(model.inputs)} inputs"
        )
    shape = tuple(model.inputs[0].shape)
    example = _single_example(example, shape)
    x = keras.ops.convert_to_tensor(example, dtype=model.inputs[0].dtype)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        call = tf.function(lambda inputs: model(inputs, training=False))
        threads = tf.config.threading.get_intra_op_parallelism_threads() or None
    else:
        call = lambda inputs: model(inputs, training=False)  # noqa: E731
        threads = None

    def run():
        keras.ops.convert_to_numpy(call(x))

    return run, threads


def _single_example(example, shape):
    """`example` with a batch axis of 1, or a random one of `shape[1:]`."""
    if example is None:
        if any(size is None for size in shape[1:]):
            raise ValueError(
                "`example` is required for a model whose input shape has unknown "
                f"sizes. Received: input_shape={shape}"
            )
        rng = np.random.default_rng(0)
        return rng.random((1,) + tuple(shape[1:]), dtype=np.float32)
    example = np.asarray(example)
    if example.ndim == len(shape) - 1:
        example = example[None]
    if example.ndim != len(shape) or example.shape[0] != 1:
        expected = ", ".join("None" if s is None else str(s) for s in shape[1:])
        raise ValueError(
            f"`example` must be one input, of shape ({expected}) or (1, {expected}). "
            f"Received: example of shape {example.shape}"
        )
    return example
