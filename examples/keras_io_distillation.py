"""The keras.io "Knowledge Distillation" example, run with `kdkeras.Distiller`.

The keras.io example (Borup, 2020) defines its own `Distiller`. Here its calls
are kept as they are — `Distiller(student=..., teacher=...)`, `compile(...)`
with `student_loss_fn`, `distillation_loss_fn=keras.losses.KLDivergence()`,
`alpha` and `temperature`, then `fit` and `evaluate` — and only the class comes
from kdkeras, which also applies the softmax and T² to `KLDivergence`, passes
`training` to the student and reports `student_loss` and `distillation_loss`.

    python examples/keras_io_distillation.py            # MNIST, as on keras.io
    python examples/keras_io_distillation.py --quick    # embedded data, seconds
"""

import argparse

import keras
import numpy as np
from keras import layers

import kdkeras
from kdkeras import Distiller


def build_models():
    teacher = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(256, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(512, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="teacher",
    )
    student = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(16, (3, 3), strides=(2, 2), padding="same"),
            layers.LeakyReLU(negative_slope=0.2),
            layers.MaxPooling2D(pool_size=(2, 2), strides=(1, 1), padding="same"),
            layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
            layers.Flatten(),
            layers.Dense(10),
        ],
        name="student",
    )
    return teacher, student


def load_data(quick):
    if quick:
        # The embedded Fashion-MNIST subset: no download, a few seconds.
        (x_train, y_train), (x_test, y_test) = (
            kdkeras.datasets.load_embedded_fashion_mnist()
        )
        return (x_train[:1000], y_train[:1000]), (x_test[:500], y_test[:500])
    # keras.datasets when online; local IDX files (KDKERAS_MNIST_DIR) offline.
    return kdkeras.datasets.load_mnist()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run")
    parser.add_argument("--teacher-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    teacher_epochs, epochs = (
        (1, 1) if args.quick else (args.teacher_epochs, args.epochs)
    )

    keras.utils.set_random_seed(42)
    teacher, student = build_models()
    student_scratch = keras.models.clone_model(student)

    (x_train, y_train), (x_test, y_test) = load_data(args.quick)
    x_train = np.reshape(x_train.astype("float32") / 255.0, (-1, 28, 28, 1))
    x_test = np.reshape(x_test.astype("float32") / 255.0, (-1, 28, 28, 1))

    teacher.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    teacher.fit(x_train, y_train, epochs=teacher_epochs, verbose=2)
    teacher.evaluate(x_test, y_test, verbose=2)

    distiller = Distiller(student=student, teacher=teacher)
    distiller.compile(
        optimizer=keras.optimizers.Adam(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
        student_loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        distillation_loss_fn=keras.losses.KLDivergence(),
        alpha=0.1,
        temperature=10,
    )
    distiller.fit(x_train, y_train, epochs=epochs, verbose=2)
    distilled = distiller.evaluate(x_test, y_test, verbose=2, return_dict=True)

    student_scratch.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    student_scratch.fit(x_train, y_train, epochs=epochs, verbose=2)
    scratch = student_scratch.evaluate(x_test, y_test, verbose=2, return_dict=True)
    print(
        "test accuracy: distilled student "
        f"{distilled['sparse_categorical_accuracy']:.4f}, student from scratch "
        f"{scratch['sparse_categorical_accuracy']:.4f}"
    )


if __name__ == "__main__":
    main()
