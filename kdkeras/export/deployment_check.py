"""`DeploymentCheck`: the int8 LiteRT student's numbers while it trains."""

import os
import tempfile
import time
import warnings

import keras
import numpy as np

from kdkeras import batches
from kdkeras.evaluation.latency import measure_latency
from kdkeras.evaluation.scoring import (
    classification_scores,
    evaluate_model,
    to_class_ids,
)
from kdkeras.export.converter import export_litert
from kdkeras.export.converter_errors import ExportError
from kdkeras.export.quantization import as_quantization
from kdkeras.litert import LiteRTModel, compare_with_keras
from kdkeras.validation import (
    check_class_labels,
    check_count,
    check_examples,
    check_number,
    check_one_of,
    check_positive_int,
    check_same_length,
    require_tensorflow_backend,
)

LOGGED_METRICS = (
    "int8_accuracy",
    "int8_agreement",
    "int8_accuracy_drop",
    "int8_size_bytes",
    "int8_latency_ms",
)
"""The keys a check adds to the epoch's `logs`."""

BUDGET_ACTIONS = ("warn", "stop")
"""The values of `on_budget_exceeded`."""


class DeploymentCheck(keras.callbacks.Callback):
    """Exports the student to int8 LiteRT every few epochs and logs its numbers.

    Every `every_n_epochs` epochs (after epochs `n, 2n, ...`), the model being
    trained (or, for a `kdkeras.Distiller`, its `student`) is converted with
    `kdkeras.export.export_litert(..., quantization)` (int8) into a temporary
    folder, run with the LiteRT interpreter on a held-out sample, and these
    values are added to the epoch's `logs`:

    * `int8_accuracy`: accuracy of the int8 file on the sample;
    * `int8_agreement`: fraction of the sample on which the int8 file and
      the float (Keras) student predict the same class;
    * `int8_accuracy_drop`: `float_accuracy - int8_accuracy`, both on the
      sample (negative when int8 happens to do better);
    * `int8_size_bytes`: the size of the `.tflite` file;
    * `int8_latency_ms`: median time of one batch-1 inference
      (`kdkeras.evaluation.measure_latency`, `latency_runs` timed runs).

    So they appear in the `History`, on the progress bar line, and in the
    files of `keras.callbacks.TensorBoard` (as `epoch_int8_accuracy`, ...)
    and `CSVLogger` **placed after this callback** in the `callbacks` list:
    Keras gives every callback the same `logs` in list order. Like `val_`
    metrics with `validation_freq`, the values exist only on check epochs;
    a `CSVLogger` fixes its columns at the first epoch, so it records them
    only with `every_n_epochs=1`.

    With `max_accuracy_drop`, a check whose drop exceeds it, or whose int8
    file fails the exporter's own check against Keras (`ExportError`), warns
    (`on_budget_exceeded="warn"`, a `UserWarning`) or stops training
    (`"stop"`: sets `model.stop_training = True` and prints why). Without a
    budget such a failed export only warns.

    Cost: one int8 conversion with calibration (a few seconds for a small
    CNN, mostly independent of the sample), two predictions on the sample
    and the timed runs; `docs/benchmarks.md` ("The cost of a deployment
    check") has the measured seconds per check. Raise `every_n_epochs` when
    epochs are short.

    Example:

    ```python
    check = kdkeras.export.DeploymentCheck(
        x_val[:500], y_val[:500], every_n_epochs=5, max_accuracy_drop=0.01,
        on_budget_exceeded="stop",
    )
    history = distiller.fit(x_train, y_train, epochs=15, callbacks=[
        check, keras.callbacks.TensorBoard("logs")])
    history.history["int8_accuracy"]        # one value per check
    ```

    Args:
        x: The held-out inputs, as the trained model takes them (a Distiller's
            `student_view` is applied for the student); or a batched
            `tf.data.Dataset` of `(inputs, labels)`, read once when the
            callback is made (then `y` is `None`).
        y: The labels, class ids or one-hot rows; `None` for a dataset.
        every_n_epochs: Check after every `every_n_epochs`-th epoch.
        max_accuracy_drop: The budget, in accuracy (0.01 is one point), or
            `None` for none. A number in [-1, 1].
        on_budget_exceeded: `"warn"` or `"stop"`.
        representative_data: Inputs int8 calibrates on (see
            `export_litert`); defaults to the sample's inputs. Give the
            training images to check what your final export will calibrate on.
        quantization: The int8 `kdkeras.export.Quantization` of the file,
            e.g. `Quantization("int8", num_calibration_examples=500)`; `"int8"`
            (the default) for its defaults.
        num_examples: Use only the first `num_examples` of the sample
            (`None`: all of it).
        latency_runs: Timed batch-1 runs per check; 0 skips the latency (and
            `int8_latency_ms`).
        num_threads: Threads of the LiteRT interpreter (1 is a phone core's
            view; `None`: LiteRT's default).
        batch_size: Batch size of the predictions on the sample.

    Attributes:
        results: One `dict` per finished check: `epoch` (1-based), the logged
            values, `float_accuracy` and `seconds` (the check's wall time), or
            `epoch`, `error` and `seconds` for a failed export.
        stopped: Whether the check stopped the last `fit`.
    """

    def __init__(
        self,
        x,
        y=None,
        every_n_epochs=1,
        max_accuracy_drop=None,
        on_budget_exceeded="warn",
        representative_data=None,
        quantization="int8",
        num_examples=None,
        latency_runs=50,
        num_threads=1,
        batch_size=256,
    ):
        super().__init__()
        require_tensorflow_backend("kdkeras.export.DeploymentCheck")
        self.every_n_epochs = check_positive_int(every_n_epochs, "every_n_epochs")
        if max_accuracy_drop is not None:
            max_accuracy_drop = check_number(
                max_accuracy_drop, "max_accuracy_drop", low=-1.0, high=1.0
            )
        self.max_accuracy_drop = max_accuracy_drop
        self.on_budget_exceeded = check_one_of(
            on_budget_exceeded, BUDGET_ACTIONS, "on_budget_exceeded"
        )
        self.quantization = as_quantization(quantization, scheme="int8")
        num_examples = check_positive_int(num_examples, "num_examples", allow_none=True)
        self.latency_runs = check_count(
            latency_runs, "latency_runs", meaning="0 skips the latency"
        )
        self.num_threads = check_positive_int(
            num_threads, "num_threads", allow_none=True
        )
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self._x, self._y = _read_sample(x, y, num_examples)
        self._representative_data = representative_data
        self._student_x = None
        self.results = []
        self.stopped = False

    def on_train_begin(self, logs=None):
        self._student_x = None
        self.stopped = False

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        start = time.perf_counter()
        student = self._student()
        x = self._student_inputs()
        try:
            values = self._check(student, x)
        except ExportError as error:
            self.results.append(
                {
                    "epoch": epoch + 1,
                    "error": str(error),
                    "seconds": time.perf_counter() - start,
                }
            )
            self._exceeded(
                epoch, f"the int8 export failed its check against Keras: {error}"
            )
            return
        float_accuracy = values.pop("float_accuracy")
        if logs is not None:
            logs.update(values)
        self.results.append(
            {
                "epoch": epoch + 1,
                **values,
                "float_accuracy": float_accuracy,
                "seconds": time.perf_counter() - start,
            }
        )
        drop = values["int8_accuracy_drop"]
        if self.max_accuracy_drop is not None and drop > self.max_accuracy_drop:
            self._exceeded(
                epoch,
                f"the int8 accuracy drop {drop:.4f} (float {float_accuracy:.4f}, "
                f"int8 {values['int8_accuracy']:.4f} on {len(x)} held-out "
                f"examples) exceeds max_accuracy_drop={self.max_accuracy_drop:g}",
            )

    def _student(self):
        """The Keras model to deploy: a Distiller's student, else the model."""
        student = getattr(self.model, "student", None)
        return student if isinstance(student, keras.Model) else self.model

    def _student_inputs(self):
        """The sample as the student takes it (after a Distiller's view)."""
        if self._student_x is None:
            view = getattr(self.model, "student_view", None)
            if view is None or self._student() is self.model:
                self._student_x = self._x
            else:
                self._student_x = np.concatenate(
                    [
                        keras.ops.convert_to_numpy(
                            view(self._x[start : start + self.batch_size])
                        )
                        for start in range(0, len(self._x), self.batch_size)
                    ]
                )
        return self._student_x

    def _check(self, student, x):
        """Converts `student` to int8 and scores it on `x`: the logged values."""
        calibration = (
            x if self._representative_data is None else self._representative_data
        )
        with tempfile.TemporaryDirectory(prefix="kdkeras-deployment-check-") as folder:
            path = export_litert(
                student,
                os.path.join(folder, "student_int8.tflite"),
                quantization=self.quantization,
                representative_data=calibration,
            )
            int8 = LiteRTModel(path, num_threads=self.num_threads)
            row = evaluate_model(int8, x, self._y, batch_size=self.batch_size)
            agreement = compare_with_keras(
                student, int8, x, batch_size=self.batch_size, verbose=0
            )
            float_outputs = student.predict(x, batch_size=self.batch_size, verbose=0)
            float_accuracy = classification_scores(
                to_class_ids(self._y), np.asarray(float_outputs).argmax(axis=-1)
            )["accuracy"]
            values = {
                "int8_accuracy": row["accuracy"],
                "int8_agreement": agreement["top1_agreement"],
                "int8_accuracy_drop": float_accuracy - row["accuracy"],
                "int8_size_bytes": row["size_bytes"],
            }
            if self.latency_runs:
                latency = measure_latency(
                    int8,
                    example=x[:1],
                    num_runs=self.latency_runs,
                    warmup=max(1, self.latency_runs // 10),
                )
                values["int8_latency_ms"] = latency["median_ms"]
        return {**values, "float_accuracy": float_accuracy}

    def _exceeded(self, epoch, reason):
        message = f"Epoch {epoch + 1}: deployment check: {reason}."
        if self.on_budget_exceeded == "stop" and self.max_accuracy_drop is not None:
            self.model.stop_training = True
            self.stopped = True
            print(f"{message} Stopping training.", flush=True)
        else:
            warnings.warn(message, stacklevel=2)


def _read_sample(x, y, num_examples):
    """The held-out sample as `(inputs, labels)` arrays, checked."""
    if batches.is_dataset(x):
        if y is not None:
            raise ValueError(
                "`y` must be None when `x` is a tf.data.Dataset: the labels come "
                f"from its (inputs, labels) batches. Received: y of type {type(y)}"
            )
        batches.check_batched_pairs(x, "x")
        inputs, labels, count = [], [], 0
        for batch_inputs, batch_labels in batches.labelled_batches(x):
            inputs.append(batch_inputs)
            labels.append(batch_labels)
            count += len(batch_inputs)
            if num_examples is not None and count >= num_examples:
                break
        if not inputs:
            raise ValueError(
                "`x` must hold at least one batch. Received: an empty dataset"
            )
        x, y = np.concatenate(inputs), np.concatenate(labels)
    else:
        if y is None:
            raise ValueError(
                "`y` is required when `x` is an array: the labels of the held-out "
                "sample. Received: y=None"
            )
        x, y = np.asarray(x), np.asarray(y)
    if num_examples is not None:
        x, y = x[:num_examples], y[:num_examples]
    check_examples(x, "x")
    check_same_length(x=x, y=y)
    check_class_labels(y, argument_name="y")
    to_class_ids(y)
    return x, y
