"""`choose_distillation_settings`: candidates from the teacher's soft-target
statistics, short offline fits on real Fashion-MNIST images, the best
validation accuracy chosen."""

import math

import keras
import numpy as np
import pytest

from kdkeras import caches
from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.distillation import (
    DistillationSettings,
    choose_distillation_settings,
)
from kdkeras.distillation.tuning import candidate_settings, rule_of_thumb
from kdkeras.models import build_cnn

BATCH_SIZE = 32


@pytest.fixture(scope="module")
def fashion_split():
    """400 training and 200 validation images, and a small CNN teacher's
    logits on the training ones (3 epochs on them)."""
    (x, y), _ = load_embedded_fashion_mnist()
    x, y = x[:600, ..., None], y[:600]
    keras.utils.set_random_seed(0)
    teacher = build_cnn(filters=(8, 16), dense_units=32, pooling="flatten")
    teacher.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    teacher.fit(x[:400], y[:400], epochs=3, batch_size=BATCH_SIZE, verbose=0)
    teacher_logits = caches.compute_teacher_logits(teacher, x[:400])
    return (x[:400], y[:400]), (x[400:], y[400:]), teacher_logits


def tiny_student():
    return build_cnn(filters=(4,), dense_units=None, pooling="flatten")


def test_rule_temperature_is_the_largest_keeping_085_of_the_mass():
    # Logits (L, 0, 0): the top class keeps e^(L/T) / (e^(L/T) + 2). With
    # L = 2 ln 18 that is 18/20 = 0.9 at T = 2, and 6.87/8.87 = 0.77 at T = 3.
    teacher_logits = np.array([[2 * np.log(18.0), 0.0, 0.0]] * 4)
    rule = rule_of_thumb(teacher_logits)
    assert rule == {"temperature": 2.0, "top_probability": 0.9, "alpha": 0.5}
    assert rule_of_thumb(teacher_logits, teacher_saw_more_data=True)["alpha"] == 0.1
    # A teacher below 0.85 even unsoftened: T = 1, its top class at 1/3.
    flat = rule_of_thumb(np.zeros((4, 3)))
    assert (flat["temperature"], flat["top_probability"]) == (1.0, 0.3333)


def test_candidates_put_the_rule_first_and_keep_a_fixed_value():
    rule = {"temperature": 2.0, "top_probability": 0.9, "alpha": 0.1}
    assert candidate_settings(rule) == [
        {"alpha": 0.1, "temperature": 2.0},
        {"alpha": 0.5, "temperature": 2.0},
        {"alpha": 0.1, "temperature": 1.0},
        {"alpha": 0.5, "temperature": 1.0},
    ]
    assert candidate_settings(rule, alpha=0.3) == [
        {"alpha": 0.3, "temperature": 2.0},
        {"alpha": 0.3, "temperature": 1.0},
    ]
    assert candidate_settings(rule, temperature=4) == [
        {"alpha": 0.1, "temperature": 4.0},
        {"alpha": 0.5, "temperature": 4.0},
    ]
    assert candidate_settings({**rule, "temperature": 1.0}, alpha=0.3) == [
        {"alpha": 0.3, "temperature": 1.0}
    ]
    assert candidate_settings(rule, uses_temperature=False) == [
        {"alpha": 0.1, "temperature": None},
        {"alpha": 0.5, "temperature": None},
    ]


@pytest.mark.slow
def test_the_choice_is_the_best_measured_validation_accuracy(fashion_split):
    train, validation, teacher_logits = fashion_split
    choice = choose_distillation_settings(
        tiny_student,
        train,
        teacher_logits,
        validation,
        teacher_saw_more_data=True,
        epochs=1.5,
        batch_size=BATCH_SIZE,
    )
    assert isinstance(choice, DistillationSettings)
    rule = rule_of_thumb(teacher_logits, teacher_saw_more_data=True)
    assert choice.rule == rule and rule["alpha"] == 0.1
    assert [
        {"alpha": row["alpha"], "temperature": row["temperature"]}
        for row in choice.table
    ] == candidate_settings(rule)
    # 1.5 epochs of 13 batches: 19 batches per candidate.
    assert {row["steps"] for row in choice.table} == {19}
    accuracies = [row["validation_accuracy"] for row in choice.table]
    best = choice.table[accuracies.index(max(accuracies))]
    assert (choice.alpha, choice.temperature) == (best["alpha"], best["temperature"])
    # Scored on 200 images: every accuracy is a whole number of them.
    for accuracy in accuracies:
        assert 0.0 < accuracy <= 1.0 and (accuracy * 200) == pytest.approx(
            round(accuracy * 200)
        )
    assert choice.as_dict()["candidates"] == [dict(row) for row in choice.table]


@pytest.mark.slow
def test_given_candidates_and_a_fixed_alpha_are_kept(fashion_split):
    train, validation, teacher_logits = fashion_split
    dataset = caches.offline_dataset(
        *train, teacher_logits, batch_size=BATCH_SIZE, seed=0
    )
    given = [{"alpha": 0.9, "temperature": 3}, {"alpha": 0.2, "temperature": 1}]
    choice = choose_distillation_settings(
        tiny_student, dataset, teacher_logits, validation, candidates=given, epochs=1
    )
    assert [(row["alpha"], row["temperature"]) for row in choice.table] == [
        (0.9, 3.0),
        (0.2, 1.0),
    ]
    assert {row["steps"] for row in choice.table} == {math.ceil(400 / BATCH_SIZE)}
    fixed = choose_distillation_settings(
        tiny_student,
        train,
        teacher_logits,
        validation,
        alpha=0.3,
        epochs=0.5,
        batch_size=BATCH_SIZE,
    )
    assert {row["alpha"] for row in fixed.table} == {0.3} and fixed.alpha == 0.3
    assert len(fixed.table) == len(
        candidate_settings(rule_of_thumb(teacher_logits), alpha=0.3)
    )


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"student_builder": "cnn"}, TypeError, "`student_builder` must be a function"),
        (
            {"epochs": 0},
            ValueError,
            r"`epochs` must be a finite number in \(0, inf\]",
        ),
        ({"epochs": 0.01}, ValueError, "`epochs` must cover at least one batch"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"alpha": 1.5}, ValueError, r"`alpha` must be a finite number in \[0, 1\]"),
        (
            {"temperature": -1},
            ValueError,
            r"`temperature` must be a finite number in \(0, inf\]",
        ),
        (
            {"candidates": [{"alpha": 0.5, "temperature": 1}], "alpha": 0.5},
            ValueError,
            "either `candidates` or a fixed",
        ),
        (
            {"candidates": [{"alpha": 2.0, "temperature": 1}]},
            ValueError,
            r"`candidates\[0\]\['alpha'\]` must be a finite number in \[0, 1\]",
        ),
        (
            {"candidates": [{"alpha": 0.5}, {"alpha": 0.5}]},
            ValueError,
            "`candidates` must be distinct",
        ),
        ({"candidates": []}, ValueError, "`candidates` must be a non-empty list"),
        (
            {"loss_arguments": {"temperature": 2}},
            ValueError,
            "`loss_arguments` must not hold the temperature",
        ),
        (
            {"validation": (np.zeros((3, 28, 28, 1)), np.zeros(2))},
            ValueError,
            "`validation` must hold examples and one label per example",
        ),
        (
            {"teacher_logits": np.zeros((5, 10))},
            ValueError,
            r"`teacher_logits` must have one row per training example \(8\)",
        ),
    ],
)
def test_bad_arguments_are_named(arguments, error, message):
    # Refused before any training: 8 blank images are enough.
    x, y = np.zeros((8, 28, 28, 1), "uint8"), np.arange(8) % 10
    teacher_logits = np.random.default_rng(0).normal(size=(8, 10))
    values = {
        "student_builder": tiny_student,
        "train": (x, y),
        "teacher_logits": teacher_logits,
        "validation": (x, y),
        "batch_size": 4,
        **arguments,
    }
    with pytest.raises(error, match=message):
        choose_distillation_settings(
            values.pop("student_builder"),
            values.pop("train"),
            values.pop("teacher_logits"),
            values.pop("validation"),
            **values,
        )
