"""Knowledge distillation on Fashion-MNIST: a small CNN learns from a big one.

Trains a teacher CNN, then the same small student CNN twice from the same
initial weights and for the same number of epochs: once from the labels alone
("scratch") and once from the labels and the teacher with `kdkeras.Distiller`
("distilled"). Prints how the three compare on the test set and saves them,
with the comparison, to `--output-dir`.

Runs on the Fashion-MNIST subset embedded in kdkeras (no download), in 2.5 to
4 minutes on a 2-core CPU:

```
python examples/demo.py            # or: make demo
python examples/demo.py --quick    # a smoke test, in seconds
```
"""

import argparse
import logging
import math
import os
import time

import keras

import kdkeras
from kdkeras import evaluation
from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.models import build_cnn

TEACHER_ARCHITECTURE = dict(filters=(32, 64, 128), dense_units=128, dropout=0.3)
STUDENT_ARCHITECTURE = dict(filters=(8, 16), dense_units=None, pooling="flatten")
TEACHER_LEARNING_RATE = 2e-3
STUDENT_LEARNING_RATE = 3e-3
LABEL_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
NUM_VALIDATION_IMAGES = 1000
QUICK_NUM_TRAIN_IMAGES = 1000
DEFAULT_SEED = 1337


def positive_int(text):
    """An `argparse` type: an integer > 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=15, help="Epochs of each student."
    )
    parser.add_argument(
        "--teacher-epochs",
        type=positive_int,
        default=15,
        help="Most epochs of the teacher (it stops early on the validation loss).",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        help="Batch size of the students.",
    )
    parser.add_argument(
        "--teacher-batch-size",
        type=positive_int,
        default=128,
        help="Batch size of the teacher.",
    )
    parser.add_argument(
        "--alpha", type=float, default=0.1, help="Weight of the label loss."
    )
    parser.add_argument(
        "--temperature", type=float, default=2.0, help="Distillation temperature."
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="Seed of the weights and the shuffling (the students share one).",
    )
    parser.add_argument(
        "--output-dir",
        default="saved_models",
        help="Where the models and comparison.json are saved.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"A smoke test: 1 epoch each on {QUICK_NUM_TRAIN_IMAGES} images.",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = args.teacher_epochs = 1
    return args


def load_data(num_train_images=None):
    """Embedded Fashion-MNIST as `(train, validation, test)` `(x, y)` pairs.

    Images stay `uint8` (the models rescale them) with a channel axis added.
    The last 1,000 training images (a fifth in quick runs) are held out for
    validation.
    """
    (x_train, y_train), (x_test, y_test) = load_embedded_fashion_mnist()
    x_train, x_test = x_train[..., None], x_test[..., None]
    if num_train_images is not None:
        x_train, y_train = x_train[:num_train_images], y_train[:num_train_images]
    num_validation = min(NUM_VALIDATION_IMAGES, len(x_train) // 5)
    train = (x_train[:-num_validation], y_train[:-num_validation])
    validation = (x_train[-num_validation:], y_train[-num_validation:])
    return train, validation, (x_test, y_test)


def adam_with_cosine_decay(learning_rate, epochs, batch_size, num_examples):
    """Adam whose learning rate decays to 0 over `epochs`, for steadier ends."""
    steps = epochs * math.ceil(num_examples / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    return keras.optimizers.Adam(schedule)


def compile_and_fit(
    model,
    train,
    validation,
    learning_rate,
    epochs,
    batch_size,
    callbacks=None,
    **compile_kwargs,
):
    """Compiles `model` (a classifier or a `Distiller`) with Adam and fits it."""
    model.compile(
        optimizer=adam_with_cosine_decay(
            learning_rate, epochs, batch_size, len(train[0])
        ),
        metrics=["accuracy"],
        **compile_kwargs,
    )
    model.fit(
        *train,
        validation_data=validation,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        verbose=2,
    )
    return model


def train_teacher(train, validation, epochs, batch_size, seed):
    """The teacher, with the weights of its best epoch on the validation set."""
    keras.utils.set_random_seed(seed)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=3, restore_best_weights=True
    )
    return compile_and_fit(
        build_cnn(name="teacher", **TEACHER_ARCHITECTURE),
        train,
        validation,
        TEACHER_LEARNING_RATE,
        epochs,
        batch_size,
        callbacks=[early_stopping],
        loss=LABEL_LOSS,
    )


def build_student(name, seed):
    """The student, with the same initial weights for the same `seed`."""
    keras.utils.set_random_seed(seed + 1)
    return build_cnn(name=name, **STUDENT_ARCHITECTURE)


def train_student_from_scratch(train, validation, epochs, batch_size, seed):
    """The student trained on the labels alone."""
    return compile_and_fit(
        build_student("student_scratch", seed),
        train,
        validation,
        STUDENT_LEARNING_RATE,
        epochs,
        batch_size,
        loss=LABEL_LOSS,
    )


def distill_student(teacher, train, validation, epochs, batch_size, seed, **kd):
    """The student trained on the labels and the teacher; `kd`: alpha, T."""
    distiller = kdkeras.Distiller(
        teacher=teacher, student=build_student("student_distilled", seed)
    )
    compile_and_fit(
        distiller,
        train,
        validation,
        STUDENT_LEARNING_RATE,
        epochs,
        batch_size,
        **kd,
    )
    return distiller.student  # A plain Keras model.


def save_models(models, output_dir):
    """Saves each model as `<output_dir>/<file name>.keras`."""
    os.makedirs(output_dir, exist_ok=True)
    for file_name, model in models.items():
        model.save(os.path.join(output_dir, f"{file_name}.keras"))


def main(argv=None):
    args = parse_args(argv)
    # Each model traces its own predict function; TensorFlow warns about
    # "retracing" when several models are scored in a row, as expected here.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    start = time.perf_counter()
    train, validation, test = load_data(QUICK_NUM_TRAIN_IMAGES if args.quick else None)
    print(
        f"Fashion-MNIST: {len(train[0])} training, {len(validation[0])} "
        f"validation and {len(test[0])} test images."
    )

    print("\nTraining the teacher...")
    teacher = train_teacher(
        train, validation, args.teacher_epochs, args.teacher_batch_size, args.seed
    )
    print("\nTraining the student from scratch (labels only)...")
    scratch = train_student_from_scratch(
        train, validation, args.epochs, args.batch_size, args.seed
    )
    print(
        f"\nDistilling the student (alpha={args.alpha}, "
        f"temperature={args.temperature})..."
    )
    distilled = distill_student(
        teacher,
        train,
        validation,
        args.epochs,
        args.batch_size,
        args.seed,
        alpha=args.alpha,
        temperature=args.temperature,
    )

    rows = evaluation.compare_models(
        {
            "teacher": teacher,
            "student (scratch)": scratch,
            "student (distilled)": distilled,
        },
        *test,
    )
    print(f"\nOn the {len(test[0])} test images:\n")
    print(evaluation.format_table(rows))

    save_models(
        {
            "teacher": teacher,
            "student_scratch": scratch,
            "student_distilled": distilled,
        },
        args.output_dir,
    )
    evaluation.save_rows_json(rows, os.path.join(args.output_dir, "comparison.json"))
    print(
        f"\nSaved the models and comparison.json to {args.output_dir}/ "
        f"({time.perf_counter() - start:.0f} s in all)."
    )


if __name__ == "__main__":
    main()
