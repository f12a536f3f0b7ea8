"""Choosing a student that fits the device, before it trains.

`choose_student` builds a few untrained candidate students, converts each to
an int8 LiteRT file and measures what the device cares about: the file's size
and the LiteRT interpreter's latency at batch 1. Neither depends on the
weights' values, so an untrained model measures what the trained one will.
It picks the candidate with the most parameters that fits the budget.

```python
(x_train, _), _ = kdkeras.datasets.load_embedded_fashion_mnist()
choice = kdkeras.export.choose_student(
    None, (28, 28, 1), 10, x_train[..., None], size_kb=40, latency_ms=0.5
)
choice.candidate        # StudentCandidate(architecture='cnn', options={...})
choice.chosen           # its measured row: parameters, size_kb, latency_ms, …
student = choice.candidate.build((28, 28, 1), 10)
```
"""

import dataclasses
import os
import tempfile

import numpy as np

from kdkeras.export import converter_errors
from kdkeras.export.quantization import as_quantization
from kdkeras.export.student_candidates import (
    IMAGE_CANDIDATES,
    TEXT_CANDIDATES,
    StudentCandidate,
    plain_option,
)
from kdkeras.progress import check_verbose, print_step
from kdkeras.validation import (
    check_number,
    check_positive_int,
    require_tensorflow_backend,
)

DEFAULT_LATENCY_RUNS = 200
"""Timed batch-1 runs per candidate: the median of 200 is stable to a few
percent even for models that run in microseconds."""


@dataclasses.dataclass(frozen=True)
class StudentChoice:
    """What `choose_student` chose, and the measurements behind the choice.

    Attributes:
        candidate: The chosen `StudentCandidate`.
        measurements: One row (`dict`) per candidate, in the order given:
            `name`, `architecture`, `options`, `parameters`, `size_bytes`,
            `size_kb` (of the int8 `.tflite` file, 1 KB = 1024 bytes),
            `latency_ms` (median at batch 1) and `latency_p90_ms`, `fits`
            and `note` (why it does not fit, or was not measured: then its
            numbers are `None`).
        runtime: How the latency was measured, in words.
    """

    candidate: StudentCandidate
    measurements: list
    runtime: str

    @property
    def chosen(self):
        """The measured row of the chosen candidate."""
        name = self.candidate.name
        return next(row for row in self.measurements if row["name"] == name)


class NoStudentFitsError(ValueError):
    """No candidate fits the budget.

    Attributes:
        measurements: The rows of every candidate (see `StudentChoice`).
        runtime: How the latency was measured, in words.
    """

    def __init__(self, message, measurements, runtime):
        super().__init__(message)
        self.measurements = measurements
        self.runtime = runtime

    @property
    def smallest(self):
        """The measured row with the fewest parameters; `None` when no
        candidate could be measured."""
        return _smallest(self.measurements)


def choose_student(
    candidates,
    input_shape,
    num_classes,
    representative_data,
    size_kb=None,
    latency_ms=None,
    num_threads=1,
    vocabulary_size=None,
    latency_runs=DEFAULT_LATENCY_RUNS,
    quantization="int8",
    verbose=0,
):
    """Measures untrained candidate students as int8 LiteRT files and picks
    the one with the most parameters that fits the budget.

    Each candidate is built untrained, converted to a full-integer (int8)
    `.tflite` file calibrated on `representative_data`, and measured: the
    file's size, and the median latency of the LiteRT interpreter at batch 1
    (`kdkeras.evaluation.measure_latency`: `invoke()` alone, after
    `latency_runs // 10` untimed runs). A candidate that cannot take
    `input_shape` (a MobileNet on grayscale or 28×28 images) is listed with
    the reason and not measured.

    Args:
        candidates: `StudentCandidate`s, or `None` for `IMAGE_CANDIDATES`
            (`TEXT_CANDIDATES` when `vocabulary_size` is given).
        input_shape: One input's shape: `(height, width, channels)`, or
            `(sequence_length,)` for token ids.
        num_classes: The number of classes.
        representative_data: Inputs to calibrate int8 on, e.g. training
            images (see `export_litert`); the first one is also the input
            the latency is measured on.
        size_kb: The largest `.tflite` file, in KB (1024 bytes), or `None`.
        latency_ms: The largest median latency at batch 1, in milliseconds,
            or `None`. At least one of `size_kb` and `latency_ms` is needed.
        num_threads: Threads of the LiteRT interpreter (`None`: LiteRT's
            default); 1 is a phone core's view.
        vocabulary_size: The number of token ids, for text candidates.
        latency_runs: Timed runs per candidate.
        quantization: The int8 `kdkeras.export.Quantization` candidates are
            converted with (e.g. its `num_calibration_examples`), or `"int8"`
            for its defaults.
        verbose: `0` is silent; `1` or `2` print one line per candidate as
            it is measured.

    Returns:
        A `StudentChoice`.

    Raises:
        NoStudentFitsError: If no candidate fits; the message names the
            budget and the smallest candidate's measured size and latency.
        ValueError: For an invalid argument, named.
    """
    require_tensorflow_backend("kdkeras.export.choose_student")
    if candidates is None:
        text = vocabulary_size is not None
        candidates = TEXT_CANDIDATES if text else IMAGE_CANDIDATES
    candidates = _check_candidates(candidates)
    check_positive_int(num_classes, "num_classes")
    if size_kb is None and latency_ms is None:
        raise ValueError(
            "`size_kb` or `latency_ms` must be set: the budget the student must "
            "fit. Received: size_kb=None, latency_ms=None"
        )
    if size_kb is not None:
        size_kb = check_number(size_kb, "size_kb", low=0, include_low=False)
    if latency_ms is not None:
        latency_ms = check_number(latency_ms, "latency_ms", low=0, include_low=False)
    check_positive_int(num_threads, "num_threads", allow_none=True)
    check_positive_int(vocabulary_size, "vocabulary_size", allow_none=True)
    text_names = [candidate.name for candidate in candidates if candidate.is_text]
    if text_names and vocabulary_size is None:
        raise ValueError(
            f"`vocabulary_size` is required for the text candidates {text_names}. "
            "Received: vocabulary_size=None"
        )
    check_positive_int(latency_runs, "latency_runs")
    quantization = as_quantization(quantization, scheme="int8")
    if representative_data is None:
        raise ValueError(
            "`representative_data` is required: int8 calibrates on model inputs "
            "such as training images. Received: representative_data=None"
        )
    verbose = check_verbose(verbose)
    measurements = []
    for index, candidate in enumerate(candidates):
        row = _measure(
            candidate,
            input_shape,
            num_classes,
            vocabulary_size,
            representative_data,
            num_threads,
            latency_runs,
            quantization,
        )
        if row["parameters"] is not None:
            row.update(_fit(row, size_kb, latency_ms))
        measurements.append(row)
        if verbose:
            print_step(
                f"[{index + 1}/{len(candidates)}] {candidate.name}",
                describe_measurement(row),
            )
    runtime = describe_runtime(num_threads, latency_runs)
    fitting = [row for row in measurements if row["fits"]]
    if not fitting:
        raise NoStudentFitsError(
            _nothing_fits(measurements, size_kb, latency_ms, runtime),
            measurements,
            runtime,
        )
    best = max(fitting, key=lambda row: row["parameters"])
    chosen = candidates[measurements.index(best)]
    return StudentChoice(chosen, measurements, runtime)


def _check_candidates(candidates):
    try:
        candidates = list(candidates)
    except TypeError:
        candidates = None
    if not candidates or not all(isinstance(c, StudentCandidate) for c in candidates):
        raise ValueError(
            "`candidates` must be None or a non-empty sequence of "
            f"StudentCandidate. Received: candidates={candidates!r}"
        )
    names = [candidate.name for candidate in candidates]
    if len(set(names)) != len(names):
        raise ValueError(f"`candidates` must be distinct. Received the names {names}")
    return candidates


def _measure(
    candidate,
    input_shape,
    num_classes,
    vocabulary_size,
    representative_data,
    num_threads,
    latency_runs,
    quantization,
):
    """The measured row of one candidate (`StudentChoice.measurements`)."""
    from kdkeras.evaluation.latency import measure_latency

    row = {
        "name": candidate.name,
        "architecture": candidate.architecture,
        "options": {key: plain_option(v) for key, v in candidate.options.items()},
        "parameters": None,
        "size_bytes": None,
        "size_kb": None,
        "latency_ms": None,
        "latency_p90_ms": None,
        "fits": False,
        "note": "",
    }
    try:
        model = candidate.build(input_shape, num_classes, vocabulary_size)
    except ValueError as error:
        row["note"] = f"skipped: {error}"
        return row
    _vary_constant_weights(model)
    with tempfile.TemporaryDirectory(prefix="kdkeras-budget-") as folder:
        path = os.path.join(folder, "candidate_int8.tflite")
        try:
            _convert_to_int8(model, path, quantization, representative_data)
        except converter_errors.ExportError as error:
            row["note"] = f"skipped: no int8 LiteRT file ({error})"
            return row
        latency = measure_latency(
            path,
            example=_first_example(model, representative_data),
            num_runs=latency_runs,
            warmup=max(1, latency_runs // 10),
            num_threads=num_threads,
        )
        size_bytes = os.path.getsize(path)
    row.update(
        parameters=int(model.count_params()),
        size_bytes=size_bytes,
        size_kb=size_bytes / 1024,
        latency_ms=latency["median_ms"],
        latency_p90_ms=latency["p90_ms"],
    )
    return row


def _vary_constant_weights(model):
    """Makes the weights an initializer filled with one value vary a little.

    The converter stores identical constant tensors once: an untrained
    model's zero biases and unit batch-norm statistics would make its file
    smaller than the trained model's (25,952 bytes against 26,856 for the
    CNN of filters [16, 32] on 28×28 images). Varied, they take their
    trained size.
    """
    import keras

    rng = np.random.default_rng(0)
    for weight in model.weights:
        values = keras.ops.convert_to_numpy(weight)
        if values.size > 1 and np.all(values == values.flat[0]):
            variation = rng.uniform(0.01, 0.1, values.shape).astype(values.dtype)
            weight.assign(values + variation)


def _convert_to_int8(model, path, quantization, representative_data):
    """`export_litert`'s int8 conversion, without its check against Keras.

    The check compares the top-1 class of Keras and of the file, which means
    nothing for an untrained model: its logits are nearly equal (an untrained
    MobileNetV2 0.35 spreads them over 1e-10), so int8 rounding decides the
    class and the check fails. The file is measured, never shipped.
    """
    from kdkeras.export.converter import export_litert

    export_litert(
        model,
        path,
        quantization,
        representative_data,
        overwrite=True,
        check_against_keras=False,
    )


def _first_example(model, representative_data):
    """The first calibration input, to time the model on real values."""
    from kdkeras.export import verify

    return verify.check_examples(model, representative_data)[:1]


def _fit(row, size_kb, latency_ms):
    """`fits` and `note` of a measured row."""
    over = []
    if size_kb is not None and row["size_kb"] > size_kb:
        over.append(f"size {row['size_kb']:.1f} KB > {size_kb:g} KB")
    if latency_ms is not None and row["latency_ms"] > latency_ms:
        over.append(f"latency {row['latency_ms']:.3f} ms > {latency_ms:g} ms")
    return {"fits": not over, "note": "; ".join(over)}


def describe_runtime(num_threads, latency_runs):
    """How `choose_student` times, in words, for messages and tables."""
    threads = (
        "LiteRT's default threads"
        if num_threads is None
        else (f"{num_threads} thread" + ("s" if num_threads != 1 else ""))
    )
    return (
        f"int8 .tflite on the LiteRT interpreter, {threads}, batch 1, median of "
        f"{latency_runs} runs"
    )


def describe_measurement(row):
    """One measured row in words, e.g. `"9,170 parameters, 13.5 KB,
    0.010 ms: fits"`."""
    if row["parameters"] is None:
        return row["note"]
    words = (
        f"{row['parameters']:,} parameters, {row['size_kb']:.1f} KB, "
        f"{row['latency_ms']:.3f} ms"
    )
    return words + (": fits" if row["fits"] else f": over ({row['note']})")


def _nothing_fits(measurements, size_kb, latency_ms, runtime):
    budget = ", ".join(
        f"{key}={value:g}"
        for key, value in (("size_kb", size_kb), ("latency_ms", latency_ms))
        if value is not None
    )
    smallest = _smallest(measurements)
    if smallest is None:
        reasons = "; ".join(f"{row['name']}: {row['note']}" for row in measurements)
        return f"No candidate student could be measured ({reasons})."
    return (
        f"No candidate student fits the budget ({budget}). The smallest, "
        f"{describe_smallest(smallest, runtime)}."
    )


def describe_smallest(row, runtime):
    """A measured row as the error of an impossible budget says it."""
    return (
        f"{row['name']} ({row['parameters']:,} parameters), measured "
        f"{row['size_kb']:.1f} KB and {row['latency_ms']:.3f} ms ({runtime})"
    )


def _smallest(measurements):
    measured = [row for row in measurements if row["parameters"] is not None]
    if not measured:
        return None
    return min(measured, key=lambda row: (row["parameters"], row["size_bytes"]))
