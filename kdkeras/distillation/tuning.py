"""Choosing `alpha` and the temperature from evidence, not by guessing.

`choose_distillation_settings` trains the student briefly under a few
settings, on the teacher's cached logits (offline, so a candidate costs a
student fit and no teacher pass), and keeps the one with the best validation
accuracy. The candidates come from the teacher's soft-target statistics
(`kdkeras.distillation.diagnostics.soft_target_statistics`) and the project's
rule of thumb from its benchmarks (docs/benchmarks.md):

- temperature: the largest `T` at which the teacher's top class keeps at
  least 0.85 of the probability mass on average (`RULE_TOP_PROBABILITY`);
  softer targets than that are close to uniform for a confident or
  label-smoothed teacher and cost accuracy. It is usually `T = 1–2`.
- alpha (the weight of the label loss): 0.5 when teacher and student learn
  from the same data; 0.1 when the teacher learned from more data than the
  student sees (a pretrained teacher: its soft targets know more than the
  labels do).

```python
choice = choose_distillation_settings(
    lambda: build_cnn(filters=(8, 16), dense_units=None, pooling="flatten"),
    train=(x_train, y_train),
    teacher_logits=teacher_logits,  # kdkeras.caches.compute_teacher_logits
    validation=(x_val, y_val),
    epochs=2,
)
choice.alpha, choice.temperature  # the winner
choice.table                      # every candidate and its validation accuracy
```
"""

import dataclasses
import itertools
import math
import time

import keras
import numpy as np

from kdkeras import batches
from kdkeras.distillation import tuning_checks
from kdkeras.distillation.diagnostics import soft_target_statistics
from kdkeras.validation import check_number, check_positive_int

RULE_TOP_PROBABILITY = 0.85
"""The mean probability of the teacher's top class the rule's temperature
keeps at least."""

RULE_TEMPERATURES = (1.0, 1.5, 2.0, 3.0, 4.0)
"""The temperatures the rule looks among; 4 is the usual upper end (Hinton et
al. 2015 used 1–20, but on the project's teachers `T = 4` already flattened
the targets to near-uniform)."""

ALPHA_SAME_DATA = 0.5
"""The rule's `alpha` when the teacher learned from the student's data."""

ALPHA_TEACHER_SAW_MORE_DATA = 0.1
"""The rule's `alpha` when the teacher learned from more data."""


@dataclasses.dataclass(frozen=True)
class DistillationSettings:
    """The outcome of `choose_distillation_settings`.

    Attributes:
        alpha: The chosen weight of the label loss.
        temperature: The chosen temperature (`None` for a loss without one).
        table: One dict per candidate, in the order tried: `alpha`,
            `temperature`, `validation_accuracy`, `validation_loss` (the
            student's label loss), `steps` (training batches) and `seconds`.
        rule: What the candidates were derived from: `temperature` and
            `alpha` of the rule, and `top_probability`, the teacher's mean
            top-class probability at that temperature.
    """

    alpha: float
    temperature: float | None
    table: tuple
    rule: dict

    def as_dict(self):
        """The settings as JSON values: `alpha`, `temperature`, `candidates`
        (the table) and `rule`."""
        return {
            "alpha": self.alpha,
            "temperature": self.temperature,
            "candidates": [dict(row) for row in self.table],
            "rule": dict(self.rule),
        }


def rule_of_thumb(teacher_logits, teacher_saw_more_data=False):
    """The rule's temperature and alpha from the teacher's logits.

    Args:
        teacher_logits: Array `(num_samples, num_classes)` of the teacher's
            logits on the training data.
        teacher_saw_more_data: Whether the teacher learned from more data
            than the student sees (e.g. it was pretrained elsewhere).

    Returns:
        A dict: `temperature`, the largest of `RULE_TEMPERATURES` at which
        the teacher's top class keeps at least `RULE_TOP_PROBABILITY` of the
        mass on average (the lowest, 1, when none does); `top_probability`
        at that temperature; and `alpha`, `ALPHA_TEACHER_SAW_MORE_DATA` or
        `ALPHA_SAME_DATA`.
    """
    if not isinstance(teacher_saw_more_data, bool):
        raise TypeError(
            "`teacher_saw_more_data` must be True or False. Received: "
            f"teacher_saw_more_data={teacher_saw_more_data!r}"
        )
    statistics = soft_target_statistics(teacher_logits, RULE_TEMPERATURES)
    kept = [row for row in statistics if row["top_probability"] >= RULE_TOP_PROBABILITY]
    chosen = kept[-1] if kept else statistics[0]
    return {
        "temperature": chosen["temperature"],
        "top_probability": round(chosen["top_probability"], 4),
        "alpha": ALPHA_TEACHER_SAW_MORE_DATA
        if teacher_saw_more_data
        else ALPHA_SAME_DATA,
    }


def candidate_settings(rule, alpha=None, temperature=None, uses_temperature=True):
    """The settings a sweep tries, the rule's own first.

    Temperatures `{T*, 1}` (`T*` the rule's; 1 is the unsoftened teacher,
    the safe end when the rule's statistics mislead) times alphas `{a*, the
    other of 0.1 and 0.5}` (`a*` the rule's; the other one checks whether
    the teacher did, or did not, learn more than the labels say): at most
    four candidates, which the benchmarks found to bracket the best setting
    of every teacher–student pair they measured.

    Args:
        rule: `rule_of_thumb`'s dict.
        alpha: A fixed alpha, kept in every candidate; `None` to sweep it.
        temperature: A fixed temperature; `None` to sweep it.
        uses_temperature: Whether the loss takes a temperature (if not, the
            candidates have `temperature` `None`).

    Returns:
        A list of `{"alpha": …, "temperature": …}` dicts.
    """
    if alpha is None:
        alphas = [rule["alpha"]] + [
            value
            for value in (ALPHA_SAME_DATA, ALPHA_TEACHER_SAW_MORE_DATA)
            if value != rule["alpha"]
        ]
    else:
        alphas = [float(alpha)]
    if not uses_temperature:
        temperatures = [None]
    elif temperature is None:
        temperatures = list(dict.fromkeys([rule["temperature"], 1.0]))
    else:
        temperatures = [float(temperature)]
    return [
        {"alpha": alpha_value, "temperature": temperature_value}
        for temperature_value, alpha_value in itertools.product(temperatures, alphas)
    ]


def choose_distillation_settings(
    student_builder,
    train,
    teacher_logits,
    validation,
    *,
    candidates=None,
    alpha=None,
    temperature=None,
    teacher_saw_more_data=False,
    epochs=1.0,
    batch_size=64,
    learning_rate=3e-3,
    loss="kd",
    loss_arguments=None,
    seed=0,
    verbose=0,
):
    """Chooses `alpha` and the temperature by a short sweep on cached logits.

    Each candidate (`candidate_settings`, or `candidates`) trains a new
    student from `student_builder` for `epochs` with a `kdkeras.Distiller`
    on the teacher's cached logits (no teacher in memory), Adam whose
    learning rate decays to 0 over the short fit; the student alone is then
    scored on `validation`. The best validation accuracy wins; a tie goes to
    the candidate tried first (the rule's own setting).

    A short fit ranks settings, it does not finish the student: train the
    winner for the full epochs afterwards.

    Args:
        student_builder: A function of no arguments that returns a new,
            untrained Keras student outputting logits.
        train: `(x, y)` NumPy arrays (class ids), or a batched
            `tf.data.Dataset` of `(x, (y, teacher_logits))` as
            `kdkeras.caches.offline_dataset` makes, reshuffled each epoch.
        teacher_logits: Array `(num_samples, num_classes)`: the teacher's
            logits on the training data (`kdkeras.caches.
            compute_teacher_logits`), row `i` for example `i` of `train`.
        validation: `(x_val, y_val)` NumPy arrays, or a batched
            `tf.data.Dataset` of `(x, y)`.
        candidates: Settings to try instead of the derived ones: a list of
            `{"alpha": …, "temperature": …}` dicts, in order of preference.
        alpha: A fixed alpha in [0, 1] (only the temperature is swept).
        temperature: A fixed temperature > 0 (only alpha is swept).
        teacher_saw_more_data: Whether the teacher learned from more data
            than the student sees (the rule's alpha is then 0.1, else 0.5).
        epochs: Training epochs of each candidate; a fraction trains that
            fraction of an epoch's batches.
        batch_size: Batch size of `train` as arrays, and of the scoring.
        learning_rate: Adam's initial learning rate.
        loss: The distillation loss, a `kdkeras.losses` name.
        loss_arguments: Its other constructor arguments (not the
            temperature).
        seed: Set before each candidate's student is built and its batches
            drawn, so every candidate starts from the same weights; `None`
            leaves the random state alone.
        verbose: Verbosity of `fit`.

    Returns:
        A `DistillationSettings`: the chosen `alpha` and `temperature`, the
        measured `table` and the `rule`.

    Raises:
        ValueError: If an argument is out of range or inconsistent, naming it.
    """
    from kdkeras import losses

    if not callable(student_builder):
        raise TypeError(
            "`student_builder` must be a function that returns a new Keras "
            f"student. Received: {student_builder!r}"
        )
    check_number(epochs, "epochs", 0.0, include_low=False)
    check_positive_int(batch_size, "batch_size")
    loss_arguments = dict(loss_arguments or {})
    if "temperature" in loss_arguments:
        raise ValueError(
            "`loss_arguments` must not hold the temperature: pass `temperature`, "
            "or leave it to the sweep."
        )
    uses_temperature = type(losses.get(loss, **loss_arguments)).uses_temperature
    teacher_logits = np.asarray(teacher_logits, dtype="float32")
    rule = rule_of_thumb(teacher_logits, teacher_saw_more_data)
    if candidates is None:
        tuning_checks.check_alpha(alpha, "alpha")
        tuning_checks.check_temperature(temperature, "temperature", uses_temperature)
        candidates = candidate_settings(rule, alpha, temperature, uses_temperature)
    else:
        if alpha is not None or temperature is not None:
            raise ValueError(
                "Pass either `candidates` or a fixed `alpha`/`temperature`, not "
                f"both. Received: alpha={alpha!r}, temperature={temperature!r}"
            )
        candidates = tuning_checks.checked_candidates(candidates, uses_temperature)
    train_batches, steps_per_epoch = _train_batches(
        train, teacher_logits, batch_size, seed
    )
    steps = math.floor(epochs * steps_per_epoch)
    if steps < 1:
        raise ValueError(
            f"`epochs` must cover at least one batch ({1 / steps_per_epoch:.3g} of "
            f"an epoch of {steps_per_epoch} batches). Received: epochs={epochs!r}"
        )
    validation = tuning_checks.checked_validation(validation)
    table = []
    for candidate in candidates:
        start = time.perf_counter()
        if seed is not None:
            keras.utils.set_random_seed(seed)
        softening = {"temperature": candidate["temperature"]}
        distiller = _compiled_distiller(
            student_builder(),
            steps,
            learning_rate,
            distillation_loss_fn=losses.get(
                loss,
                **loss_arguments,
                **(softening if candidate["temperature"] is not None else {}),
            ),
            alpha=candidate["alpha"],
        )
        distiller.fit(train_batches(), steps_per_epoch=steps, epochs=1, verbose=verbose)
        if isinstance(validation, tuple):
            scores = distiller.evaluate(
                *validation, batch_size=batch_size, return_dict=True, verbose=0
            )
        else:
            scores = distiller.evaluate(validation, return_dict=True, verbose=0)
        table.append(
            {
                **candidate,
                "validation_accuracy": round(scores["accuracy"], 6),
                "validation_loss": round(scores["loss"], 6),
                "steps": steps,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    best = max(table, key=lambda row: row["validation_accuracy"])
    return DistillationSettings(
        alpha=best["alpha"],
        temperature=best["temperature"],
        table=tuple(table),
        rule=rule,
    )


def _compiled_distiller(student, steps, learning_rate, **compile_arguments):
    """An offline `Distiller` of `student` with Adam decaying to 0 over
    `steps` and `compile_arguments` (the loss, alpha and temperature)."""
    from kdkeras.distillation.distiller import Distiller

    if not isinstance(student, keras.Model):
        raise TypeError(
            "`student_builder` must return a Keras model. Received: an object "
            f"of type {type(student).__name__}"
        )
    distiller = Distiller(teacher=None, student=student)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    distiller.compile(
        optimizer=keras.optimizers.Adam(schedule),
        metrics=["accuracy"],
        **compile_arguments,
    )
    return distiller


def _train_batches(train, teacher_logits, batch_size, seed):
    """A function making the candidates' repeated training batches (the same
    order for each when `seed` is set), and the batches of one epoch."""
    from kdkeras.caches.logit_file import offline_dataset

    if batches.is_dataset(train):
        steps_per_epoch = int(train.cardinality())
        if steps_per_epoch < 1:
            raise ValueError(
                "`train` must be a dataset of known, finite length (from "
                "`offline_dataset`, or arrays). Received: a dataset of "
                f"cardinality {steps_per_epoch}"
            )
        return train.repeat, steps_per_epoch
    if not isinstance(train, (tuple, list)) or len(train) != 2:
        raise ValueError(
            "`train` must be `(x, y)` arrays or a batched dataset of "
            f"`(x, (y, teacher_logits))`. Received: {type(train).__name__}"
        )
    x, y = train
    if len(teacher_logits) != len(y):
        raise ValueError(
            "`teacher_logits` must have one row per training example "
            f"({len(y)}). Received: {len(teacher_logits)} rows"
        )

    def make():
        return offline_dataset(
            x, y, teacher_logits, batch_size=batch_size, seed=seed
        ).repeat()

    return make, math.ceil(len(y) / batch_size)
