"""Magnitude pruning of a Keras 3 student with tfmot, teacher in the loop.

```python
result = kdkeras.optimize.prune(
    student, (x_train, y_train), target_sparsity=0.5, teacher=teacher, epochs=2
)
result.model           # a Keras 3 model with half of each kernel zero
result.sparsity        # {"layers": {...}, "overall": 0.5}
```
"""

import dataclasses

import keras

from kdkeras.distillation.objective import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
from kdkeras.evaluation.sparsity import (
    gzipped_size_bytes,
    layer_kernel,
    sparsity_report,
)
from kdkeras.optimize import _training, bridge
from kdkeras.validation import require_tensorflow_backend

__all__ = [
    "PruneResult",
    "gzipped_size_bytes",
    "prune",
    "pruning_schedule_steps",
    "sparsity_report",
]


@dataclasses.dataclass
class PruneResult:
    """What `prune` returns.

    Attributes:
        model: The pruned student as a Keras 3 model (pruning wrappers
            stripped, zeros in the kernels).
        tf_keras_model: The same pruned model in `tf_keras`.
        history: Per-epoch `loss`, `accuracy` (and `val_*`).
        sparsity: `sparsity_report(model)`.
    """

    model: object
    tf_keras_model: object
    history: dict
    sparsity: dict


def pruning_schedule_steps(total_steps):
    """`(begin_step, end_step, frequency)` of a schedule over `total_steps`.

    Sparsity ramps up over the first ~60% of the steps, in about 10 updates,
    and the last update falls on `end_step`, so the target is reached and the
    remaining steps fine-tune with the final masks. (tfmot's default
    `frequency=100` would prune nothing in a run of fewer steps.)
    """
    if total_steps < 2:
        raise ValueError(
            "Pruning needs at least 2 training steps (epochs × batches). "
            f"Received: {total_steps} steps"
        )
    frequency = max(1, total_steps // 16)
    updates = max(1, int(0.6 * (total_steps - 1)) // frequency)
    return 0, updates * frequency, frequency


def prune(
    student,
    data,
    target_sparsity=0.5,
    epochs=2,
    teacher=None,
    teacher_logits=None,
    teacher_outputs="auto",
    batch_size=64,
    learning_rate=1e-4,
    alpha=DEFAULT_ALPHA,
    temperature=DEFAULT_TEMPERATURE,
    validation_data=None,
    seed=0,
    verbose=0,
):
    """Prunes the kernels of `student` to `target_sparsity` while distilling.

    Each `Conv`/`Dense`-like kernel is pruned by magnitude (Zhu & Gupta, 2017,
    "To prune, or not to prune", arXiv:1710.01878) with tfmot's
    `prune_low_magnitude` and a polynomial schedule fitted to the number of
    steps, while training on the `Distiller`'s loss
    `alpha · CE + (1 − alpha) · T² · KL` against `teacher` or stored
    `teacher_logits` (labels only without either).

    Args:
        student: A Keras 3 model that outputs logits (see
            `kdkeras.optimize.to_tf_keras` for the supported layers).
        data: `(x, y)` arrays, `y` integer class ids.
        target_sparsity: Fraction in (0, 1) of each kernel set to zero.
        epochs: Training epochs.
        teacher: Optional Keras 3 teacher, frozen.
        teacher_logits: Optional array `(n, classes)` aligned with `x`.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        batch_size: Batch size.
        learning_rate: Adam learning rate.
        alpha: Weight in [0, 1] of the label loss.
        temperature: Softening temperature `T > 0`.
        validation_data: Optional `(x_val, y_val)`, scored on the labels.
        seed: Shuffling seed.
        verbose: Progress of the training, as `fit` shows it: `0` (the
            default) silent, `1` a progress bar, `2` one line per epoch.

    Returns:
        A `PruneResult`; `student` itself is not changed.

    Raises:
        RuntimeError: If Keras does not run on the TensorFlow backend.
    """
    require_tensorflow_backend("kdkeras.optimize.prune")
    _training.check_arguments(student, epochs, batch_size, learning_rate)
    verbose = _training.check_verbose(verbose)
    if isinstance(target_sparsity, bool) or not isinstance(
        target_sparsity, (int, float)
    ):
        raise TypeError(
            "`target_sparsity` must be a number in (0, 1). "
            f"Received: target_sparsity={target_sparsity!r} of type "
            f"{type(target_sparsity).__name__}"
        )
    if not 0.0 < target_sparsity < 1.0:
        raise ValueError(
            "`target_sparsity` must be in (0, 1). "
            f"Received: target_sparsity={target_sparsity}"
        )
    objective, dataset, validation, steps_per_epoch, tf_keras_model = _training.prepare(
        student,
        data,
        alpha,
        temperature,
        teacher=teacher,
        teacher_logits=teacher_logits,
        teacher_outputs=teacher_outputs,
        validation_data=validation_data,
        batch_size=batch_size,
        seed=seed,
    )
    sparsity = bridge.tfmot().sparsity.keras
    begin_step, end_step, frequency = pruning_schedule_steps(epochs * steps_per_epoch)
    schedule = sparsity.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=float(target_sparsity),
        begin_step=begin_step,
        end_step=end_step,
        frequency=frequency,
    )

    def wrap(layer):
        if layer_kernel(layer) is None:
            return layer
        return sparsity.prune_low_magnitude(layer, pruning_schedule=schedule)

    pruned = bridge.tf_keras().models.clone_model(tf_keras_model, clone_function=wrap)
    history = _training.fit(
        pruned,
        objective,
        dataset,
        validation,
        epochs,
        learning_rate,
        callbacks=[sparsity.UpdatePruningStep()],
        verbose=verbose,
    )
    stripped = sparsity.strip_pruning(pruned)
    model = keras.models.clone_model(student)
    bridge.to_keras3(stripped, model)
    return PruneResult(
        model=model,
        tf_keras_model=stripped,
        history=history,
        sparsity=sparsity_report(model),
    )
