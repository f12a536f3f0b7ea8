"""Scoring several models on the same data: one `evaluate_model` row each.

```python
rows = compare_models(
    {"teacher": teacher, "student int8": "student_int8.tflite"},
    x_test,
    y_test,
    latency_runs=100,
)
print(format_table(rows))
```
"""

import collections.abc
import time

from kdkeras.evaluation.scoring import evaluate_model, model_format
from kdkeras.progress import check_verbose, print_step


def compare_models(
    models,
    x,
    y,
    batch_size=256,
    latency_runs=0,
    num_threads=None,
    verbose="auto",
):
    """Scores several models on the same data, one `evaluate_model` row each.

    Args:
        models: A `dict` from row name to a `keras.Model`, a `.tflite` path or
            a `kdkeras.litert.LiteRTModel`, in the order of the table, e.g.
            `{"teacher": teacher, "student int8": "student_int8.tflite"}`.
        x: The inputs, or a batched `tf.data.Dataset` of `(inputs, labels)`.
        y: The labels (class ids or one-hot); `None` for a dataset.
        batch_size: Batch size of the predictions.
        latency_runs: Timed runs per model at batch 1; 0 skips the latency.
        num_threads: Threads of the LiteRT interpreters (`None`: LiteRT's
            default). Keras models run with TensorFlow's threads.
        verbose: As in Keras: `0` is silent; `"auto"` (the default) prints
            one line per model as soon as it is scored, e.g.
            `[2/3] student int8: accuracy 0.8855 (4.1 s)`; `1` also shows a
            `keras.utils.Progbar` of each model's predictions and timed runs,
            `2` a line as each model's scoring starts and one per step of it
            (see `evaluate_model`).

    Returns:
        A list of `evaluate_model` rows, in the order of `models`.
    """
    expected = (
        "`models` must be a non-empty dict from name to a keras.Model, a .tflite "
        "path or a kdkeras.litert.LiteRTModel."
    )
    if not isinstance(models, collections.abc.Mapping) or not models:
        raise ValueError(f"{expected} Received: models={models!r}")
    # Every model is checked before the first one is scored.
    formats = {}
    for name, model in models.items():
        try:
            formats[name] = model_format(model)
        except ValueError:
            raise ValueError(
                f"{expected} Received: models[{name!r}] of type {type(model).__name__}"
            ) from None
    # "auto" keeps each model's scoring quiet: one line per model.
    step_verbose = check_verbose(verbose, auto=0)
    rows = []
    for index, (name, model) in enumerate(models.items()):
        start = time.perf_counter()
        label = f"[{index + 1}/{len(models)}] {name}"
        if step_verbose == 2:
            print_step(label, "scoring …")
        row = evaluate_model(
            model,
            x,
            y,
            name=str(name),
            batch_size=batch_size,
            latency_runs=latency_runs,
            num_threads=num_threads if formats[name] == "litert" else None,
            verbose=step_verbose,
        )
        rows.append(row)
        if verbose:
            print_step(
                label,
                f"accuracy {row['accuracy']:.4f} ({time.perf_counter() - start:.1f} s)",
            )
    return rows
