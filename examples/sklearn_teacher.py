"""Distill a scikit-learn model into a Keras student, offline.

The teacher can be anything that produced outputs: here a gradient-boosting
classifier on scikit-learn's 8×8 digits. Its probabilities are stored once as
logits (with fingerprints of the teacher and the data) and the Keras student
learns from them with no teacher in the training loop:

    python examples/sklearn_teacher.py
"""

import argparse
import os
import tempfile

import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split

import kdkeras
from kdkeras import caches, evaluation


def build_student(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="student",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--train-samples",
        type=int,
        default=300,
        help="labelled samples (the teacher labels the rest)",
    )
    parser.add_argument("--cache", default=None, help="where to store the logits")
    args = parser.parse_args(argv)

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.3, random_state=0, stratify=digits.target
    )
    teacher = HistGradientBoostingClassifier(random_state=0).fit(x_train, y_train)
    print(f"teacher (scikit-learn) test accuracy: {teacher.score(x_test, y_test):.4f}")

    cache = args.cache or os.path.join(tempfile.mkdtemp(), "teacher_logits.npz")
    teacher_logits = caches.cache_teacher_logits(
        teacher, x_train, cache, overwrite=True
    )
    teacher_logits = caches.load_teacher_logits(cache, x_train, teacher=teacher)

    # Hard labels for a few samples only; the teacher's soft targets for all.
    labelled = args.train_samples
    scratch = build_student(seed=0)
    scratch.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    scratch.fit(
        x_train[:labelled],
        y_train[:labelled],
        epochs=args.epochs,
        batch_size=32,
        verbose=0,
    )

    distiller = kdkeras.Distiller(teacher=None, student=build_student(seed=0))
    distiller.compile(
        optimizer=keras.optimizers.Adam(0.01),
        alpha=0.5,
        temperature=2.0,
    )
    # Unlabelled samples get the teacher's top-1 class as label: the student
    # still learns the soft targets from every sample.
    labels = np.where(
        np.arange(len(x_train)) < labelled, y_train, teacher_logits.argmax(axis=-1)
    )
    dataset = caches.offline_dataset(
        x_train, labels, teacher_logits, batch_size=32, seed=0
    )
    distiller.fit(dataset, epochs=args.epochs, verbose=0)
    rows = evaluation.compare_models(
        {"student from scratch": scratch, "student distilled": distiller.student},
        x_test,
        y_test,
    )
    print(evaluation.format_table(rows))
    return {row["name"]: row["accuracy"] for row in rows}


if __name__ == "__main__":
    main()
