"""Scoring classifiers: one row per model, Keras or LiteRT.

`evaluate_model` scores a Keras model, a `.tflite` file or a
`kdkeras.litert.LiteRTModel` on `(x, y)` and returns a row, a `dict` of plain
Python values. `compare_models` (`kdkeras.evaluation.comparison`), the
comparison report, the examples and the benchmarks all build on it, so every
table scores models the same way:

```python
rows = compare_models(
    {
        "teacher": teacher,
        "student (distilled)": distiller.student,
        "student int8": "student_int8.tflite",
    },
    x_test,
    y_test,
)
print(format_table(rows))
save_rows_json(rows, "comparison.json")
```
"""

import time

import numpy as np
from sklearn import metrics as sklearn_metrics

from kdkeras import batches
from kdkeras.evaluation.latency import describe_latency, time_kind
from kdkeras.evaluation.litert_twin import litert_twin
from kdkeras.evaluation.model_kinds import model_format, model_kind
from kdkeras.progress import check_verbose, print_step, progress_bar
from kdkeras.validation import (
    check_class_labels,
    check_count,
    check_examples,
    check_positive_int,
)


def evaluate_model(
    model,
    x,
    y,
    name=None,
    parameters=None,
    batch_size=256,
    latency_runs=0,
    num_threads=None,
    verbose=0,
):
    """Scores a classifier, Keras or LiteRT, on `(x, y)`: one row of a table.

    The predicted class is the argmax of the model's outputs, so the model may
    output logits or probabilities (a LiteRT model's integer outputs are
    dequantized first). Precision, recall and F1 are macro averages over the
    classes (`sklearn.metrics`, `zero_division=0`: a class that is never
    predicted has a precision of 0). A Keras model and its `.tflite`
    conversions give rows with the same keys, for one `format_table`.

    Example:

    ```python
    row = evaluate_model(student, x_test, y_test, name="student")
    int8_row = evaluate_model(
        "student_int8.tflite", x_test, y_test, parameters=row["parameters"]
    )
    print(format_table([row, int8_row]))
    ```

    Args:
        model: A `keras.Model`, the path of a `.tflite` file or a
            `kdkeras.litert.LiteRTModel`: a classifier with one output of
            shape `(batch_size, num_classes)`, `num_classes >= 2`.
        x: The inputs, real values as the Keras model takes them (LiteRT
            quantizes them for an integer input tensor); or a batched
            `tf.data.Dataset` of `(inputs, labels)`, e.g. from
            `keras.utils.image_dataset_from_directory`, read once, batch by
            batch (then `y` is `None`).
        y: The labels: class ids in `[0, num_classes)` of shape `(N,)` or
            `(N, 1)`, or one-hot (or probability) rows of shape
            `(N, num_classes)`; `None` when `x` is a dataset.
        name: Name of the row, a string. Defaults to `model.name`; for a
            `.tflite` file, its name without the extension.
        parameters: The `parameters` of a LiteRT row, e.g. the
            `count_parameters` of the Keras model it was converted from;
            `None` shows as `-` in a table. Must be `None` for a Keras model,
            whose weights are counted.
        batch_size: Batch size of the predictions, a positive integer.
        latency_runs: Timed single-example runs on `x[:1]` (see
            `measure_latency`), after `max(1, latency_runs // 10)` untimed
            ones. 0, the default, skips the latency. Every model is timed by
            the LiteRT interpreter, so that latencies compare one runtime:
            a Keras model through its float32 LiteRT conversion (its "twin",
            `kdkeras.evaluation.litert_twin`, made once per model), and also
            as a traced call in Keras (`keras_latency_median_ms`).
        num_threads: Threads of the LiteRT interpreter (a Keras model's twin
            included), a positive integer, or `None` for LiteRT's default (a
            `LiteRTModel` predicts with its own threads and is timed with
            `num_threads`). A Keras model's own call runs with TensorFlow's
            threads, set once per process.
        verbose: As in Keras (see `kdkeras.progress`): `0` (the default) is
            silent; `1` shows a `keras.utils.Progbar` of the predictions and
            of the timed runs; `2` prints a line after each step, e.g.
            `student int8: predicted 2000 examples in 0.3 s` and
            `student int8: timed 100 batch-1 runs: median 0.042 ms, p90
            0.047 ms (0.1 s)` (and, for a Keras model, its size).

    Returns:
        A `dict` of plain Python values:

        * `name`, and `format`: `"keras"` or `"litert"`;
        * `accuracy`, `precision`, `recall`, `f1`: floats in [0, 1];
        * `confusion_matrix`: `num_classes` lists of `num_classes` counts, row
          `i` column `j` the number of examples of class `i` predicted as `j`;
        * `parameters`: `count_parameters(model)` for a Keras model, the
          `parameters` argument for a LiteRT model;
        * `size_bytes`: the `.keras` file without optimizer state (see
          `model_size_bytes`), or the `.tflite` file;
        * `gzipped_bytes`: the weights (Keras) or the file (LiteRT) after gzip
          (see `kdkeras.sparsity.gzipped_size_bytes`);
        * `sparsity` and `layer_sparsity`: the fraction of zeros of all the
          kernels and of each layer's (see `kdkeras.sparsity.sparsity_report`);
          `None` for a LiteRT model;
        * only when `latency_runs > 0`: `latency_median_ms` and
          `latency_p90_ms` (milliseconds), `latency_runtime` (`"litert"`;
          `"keras"` for a Keras model that does not convert, with
          `latency_note` saying why), `latency_warmup`, `latency_runs` and
          `latency_num_threads` (`None`: the runtime's default), and for a
          Keras model `keras_latency_median_ms`, its traced call in Keras.

    Raises:
        ValueError: If an argument is not as described above, if the model
            does not output one score per class, if `x` and `y` do not hold
            as many examples, or if `y` holds a class the model does not
            output.
    """
    if name is not None and not isinstance(name, str):
        raise ValueError(f"`name` must be a string or None. Received: name={name!r}")
    check_count(parameters, "parameters", allow_none=True)
    batch_size = check_positive_int(batch_size, "batch_size")
    check_count(latency_runs, "latency_runs", meaning="0 skips the latency")
    num_threads = check_positive_int(num_threads, "num_threads", allow_none=True)
    verbose = check_verbose(verbose)
    kind = model_kind(
        model,
        num_threads=num_threads if model_format(model) == "litert" else None,
        parameters=parameters,
    )
    row_name = kind.name if name is None else name
    start = time.perf_counter()
    if batches.is_dataset(x):
        outputs, labels, latency_example = _predict_dataset(
            kind, x, y, batch_size, verbose
        )
        true_classes = to_class_ids(labels)
    else:
        labels, latency_example = np.asarray(y), x[:1]
        _check_array_data(kind, x, labels)
        true_classes = to_class_ids(labels)  # Checked before predicting.
        outputs = kind.predict(x, batch_size, verbose=int(verbose == 1))
    outputs = _class_scores(outputs, kind.source)
    if verbose == 2:
        print_step(
            row_name,
            f"predicted {len(outputs)} examples in {time.perf_counter() - start:.1f} s",
        )
    num_classes = outputs.shape[-1]
    _check_labels(labels, true_classes, num_classes, len(outputs))
    predicted_classes = outputs.argmax(axis=-1)

    row = {
        "name": row_name,
        "format": kind.format,
        **classification_scores(true_classes, predicted_classes),
        "confusion_matrix": sklearn_metrics.confusion_matrix(
            true_classes, predicted_classes, labels=np.arange(num_classes)
        ).tolist(),
        **kind.size_fields(row_name, verbose),
    }
    if latency_runs:
        row.update(
            _latency_fields(
                kind, latency_example, latency_runs, num_threads, row_name, verbose
            )
        )
    return row


def _latency_fields(kind, example, num_runs, num_threads, row_name, verbose):
    """The latency fields of a row: every model timed by the LiteRT
    interpreter (a Keras model through its float32 LiteRT twin, and in Keras
    too), with the runtime, threads, warm-up and runs that were used."""
    warmup = max(1, num_runs // 10)

    def timed(timed_kind, label):
        start = time.perf_counter()
        latency = time_kind(
            timed_kind, example, num_runs, warmup, verbose=int(verbose == 1)
        )
        if verbose == 2:
            print_step(
                row_name,
                f"timed {label}{describe_latency(latency)} "
                f"({time.perf_counter() - start:.1f} s)",
            )
        return latency

    fields = {"latency_runtime": "litert", "latency_warmup": warmup}
    if kind.format == "keras":
        keras_latency = timed(kind, "in Keras: ")
        fields["keras_latency_median_ms"] = keras_latency["median_ms"]
        twin = litert_twin(kind.model)
        if twin.path is None:
            latency = keras_latency
            fields["latency_runtime"] = "keras"
            fields["latency_note"] = f"timed in Keras: no LiteRT twin ({twin.reason})"
        else:
            twin_kind = model_kind(twin.path, num_threads=num_threads)
            latency = timed(twin_kind, "as float32 LiteRT: ")
    else:
        latency = timed(kind, "")
    return {
        "latency_median_ms": latency["median_ms"],
        "latency_p90_ms": latency["p90_ms"],
        **fields,
        "latency_runs": latency["num_runs"],
        "latency_num_threads": latency["num_threads"],
    }


def _predict_dataset(kind, dataset, y, batch_size, verbose=0):
    """Predictions and labels of a `(inputs, labels)` dataset, in one pass.

    One pass, so a dataset that reshuffles every iteration still pairs each
    prediction with its label. Returns the outputs, the labels and the first
    example (for the latency). `verbose=1` shows a `keras.utils.Progbar` of
    the batches.
    """
    if y is not None:
        raise ValueError(
            "`y` must be None when `x` is a tf.data.Dataset: the labels come "
            f"from its (inputs, labels) batches. Received: y of type {type(y)}"
        )
    batches.check_batched_pairs(dataset, "x")
    outputs, labels, first_example = [], [], None
    bar = progress_bar(None, verbose, unit_name="batch")
    for inputs, batch_labels in batches.labelled_batches(dataset):
        if first_example is None:
            first_example = inputs[:1]
        batch_outputs = kind.predict_batch(inputs, batch_size)
        outputs.append(_class_scores(batch_outputs, kind.source))
        labels.append(batch_labels)
        if bar is not None:
            bar.update(len(outputs))
    if bar is not None:
        bar.update(len(outputs), finalize=True)
    if first_example is None:
        raise ValueError("`x` must hold at least one batch. Received: an empty dataset")
    return np.concatenate(outputs), np.concatenate(labels), first_example


def _class_scores(outputs, source):
    """The predictions as an array of shape `(N, num_classes)`."""
    if isinstance(outputs, (list, tuple, dict)):
        raise ValueError(
            f"`model` must have one output. Received: {len(outputs)} outputs "
            f"from {source}"
        )
    outputs = np.asarray(outputs)
    if outputs.ndim != 2 or outputs.shape[-1] < 2:
        raise ValueError(
            "`model` must output one score per class, of shape "
            f"(batch_size, num_classes) with num_classes >= 2. Received: "
            f"outputs of shape {outputs.shape} from {source}"
        )
    return outputs


def _check_array_data(kind, x, labels):
    """Checks array data before the model runs: examples, labels, classes."""
    num_examples = check_examples(x, "x")
    check_class_labels(labels, kind.static_num_classes(), "y")
    if num_examples is not None and len(labels) != num_examples:
        raise ValueError(
            f"`x` and `y` must hold as many examples. Received: {num_examples} "
            f"examples in x and {len(labels)} labels"
        )


def _check_labels(labels, true_classes, num_classes, num_predictions):
    if len(true_classes) != num_predictions:
        raise ValueError(
            f"`x` and `y` must hold as many examples. Received: {num_predictions} "
            f"predictions and {len(true_classes)} labels"
        )
    check_class_labels(labels, num_classes, "y")


def to_class_ids(y):
    """Class ids of shape `(N,)` from sparse labels or one-hot rows."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[-1] > 1:
        return y.argmax(axis=-1)
    if y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            "`y` must be class ids of shape (N,) or (N, 1), or one-hot labels "
            f"of shape (N, num_classes). Received: y of shape {y.shape}"
        )
    return y.astype(np.int64)


def classification_scores(true_classes, predicted_classes):
    """Accuracy and macro precision, recall and F1 of predicted class ids."""
    precision, recall, f1, _ = sklearn_metrics.precision_recall_fscore_support(
        true_classes, predicted_classes, average="macro", zero_division=0
    )
    return {
        "accuracy": float(
            sklearn_metrics.accuracy_score(true_classes, predicted_classes)
        ),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
    }
