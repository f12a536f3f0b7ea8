"""Knowledge distillation on Fashion-MNIST: a small CNN learns from MobileNetV2.

1. The teacher is a `keras.applications.MobileNetV2` (width 0.35) that sees
   48×48 RGB images with MobileNetV2's preprocessing. Its backbone was
   pretrained by the project on the full Fashion-MNIST training set
   (`tools/pretrain_backbone.py`, shipped in `saved_models/pretrained/`); the
   demo gives it a new head and fine-tunes it in two stages (head only, then
   the top of the backbone at a lower rate, BatchNorm frozen).
2. The student, a 9k-parameter CNN on 28×28 grayscale, is trained twice from
   the same initial weights for the same number of epochs: from the labels
   alone ("scratch") and from the labels and the teacher with
   `kdkeras.Distiller` ("distilled"), each model seeing its own view of the
   batch.
3. Prints how the three compare on the test set and saves them, with the
   comparison, to `--output-dir`.

Runs on the Fashion-MNIST subset embedded in kdkeras (no download), in about
3 minutes on a 2-core CPU:

```
python examples/demo.py                         # or: make demo
python examples/demo.py --teacher-weights none  # teacher from scratch
python examples/demo.py --quick                 # a smoke test, in seconds
```
"""

import argparse
import logging
import math
import os
import time

import keras
import numpy as np

import kdkeras
from kdkeras import evaluation
from kdkeras.datasets import FASHION_MNIST_CLASS_NAMES, load_embedded_fashion_mnist
from kdkeras.layers import ImageView
from kdkeras.models import build_cnn, build_teacher

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEACHER_PRESET = "mobilenet_v2"
TEACHER_WIDTH = 0.35
TEACHER_SIZE = 48
PRETRAINED_BACKBONE = os.path.join(
    REPO_ROOT,
    "saved_models",
    "pretrained",
    "mobilenet_v2_0.35_48px_fashion_mnist.weights.h5",
)
# Fewer top layers than the head epochs need: the backbone already fits the
# task and the head is new.
NUM_UNFROZEN_LAYERS = 20
HEAD_LEARNING_RATE = 1e-3
FINE_TUNE_LEARNING_RATE = 1e-4
SCRATCH_TEACHER_LEARNING_RATE = 2e-3
STUDENT_ARCHITECTURE = dict(filters=(8, 16), dense_units=None, pooling="flatten")
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


def teacher_weights(text):
    """An `argparse` type: a weights file, `"imagenet"`, or `"none"` → None."""
    return None if text.lower() == "none" else text


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=15, help="Epochs of each student."
    )
    parser.add_argument(
        "--teacher-weights",
        type=teacher_weights,
        default=PRETRAINED_BACKBONE,
        help="Backbone weights of the teacher (a .weights.h5 file, 'imagenet' "
        "with internet, or 'none' to train the teacher from scratch).",
    )
    parser.add_argument(
        "--teacher-epochs",
        type=positive_int,
        default=2,
        help="Epochs of each fine-tuning stage of the teacher (15 in all "
        "without pretrained weights).",
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
        help="Where the models, the device package and its report are saved.",
    )
    parser.add_argument(
        "--qat",
        action="store_true",
        help="Then fine-tune the distilled student with quantization-aware "
        "training (teacher in the loop) and add its int8 file to the package.",
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


def build_teacher_view():
    """How the teacher sees a batch: 48×48 RGB, MobileNetV2 preprocessing."""
    return ImageView(
        size=(TEACHER_SIZE, TEACHER_SIZE), channels=3, preprocessing=TEACHER_PRESET
    )


def fine_tune_teacher(train, validation, weights, epochs, batch_size, seed):
    """The MobileNetV2 teacher, fine-tuned in two stages from `weights`.

    With `weights=None` there is nothing to keep: the whole network trains
    from scratch (BatchNorm included) for `epochs` × 7.5 epochs.

    Returns:
        The teacher, which takes `build_teacher_view()` images.
    """
    keras.utils.set_random_seed(seed)
    teacher = build_teacher(
        TEACHER_PRESET,
        10,
        (TEACHER_SIZE, TEACHER_SIZE, 3),
        weights=weights,
        width=TEACHER_WIDTH,
        dropout=0.2,
        name="teacher",
    )
    if weights is None:
        # keras.applications' momentum (0.999) suits long ImageNet runs only.
        kdkeras.transfer.set_batch_norm_momentum(teacher, 0.9)
    view = build_teacher_view()
    # The teacher trains on its own view of the images, computed once.
    train_view = (np.asarray(view(train[0])), train[1])
    validation_view = (np.asarray(view(validation[0])), validation[1])
    kdkeras.transfer.fine_tune(
        teacher,
        train_view,
        validation_view,
        head_epochs=epochs if weights else 0,
        head_learning_rate=HEAD_LEARNING_RATE,
        fine_tune_epochs=epochs if weights else math.ceil(epochs * 7.5),
        fine_tune_learning_rate=(
            FINE_TUNE_LEARNING_RATE if weights else SCRATCH_TEACHER_LEARNING_RATE
        ),
        num_unfrozen_layers=NUM_UNFROZEN_LAYERS if weights else None,
        freeze_batch_norm=bool(weights),
        batch_size=batch_size,
        verbose=2,
    )
    return teacher


def with_view(teacher, view, input_shape):
    """`teacher` behind `view`: a model that takes raw images."""
    return keras.Sequential(
        [keras.Input(input_shape, name="images"), view, teacher], name="teacher"
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
    """The student trained on the labels and the teacher; `kd`: alpha, T.

    The teacher sees its own view of each batch; the student the raw images.
    """
    distiller = kdkeras.Distiller(
        teacher=teacher,
        student=build_student("student_distilled", seed),
        teacher_view=build_teacher_view(),
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


def export_for_device(student, x_train, directory):
    """The student as float16 and int8 LiteRT files, with labels and metadata.

    Fashion-MNIST garments are light on a black background: an app feeding
    camera frames of dark garments on white must invert them.
    """
    preprocessing = kdkeras.export.describe_preprocessing(student)
    preprocessing["invert"] = True
    preprocessing["description"] += (
        " Fashion-MNIST images are light garments on black: invert (255 - "
        "pixel) a frame of a garment on a light background."
    )
    return kdkeras.export.save_for_device(
        student,
        directory,
        labels=FASHION_MNIST_CLASS_NAMES,
        representative_data=x_train,
        quantizations=("float16", "int8"),
        preprocessing=preprocessing,
        overwrite=True,
    )


def check_exports(student, tflite_paths, x_test):
    """Prints how closely each `.tflite` variant follows the Keras student
    (the files end in a softmax: compared with the student and its softmax,
    `kdkeras.export.device_model`)."""
    reference = kdkeras.export.device_model(student)
    for quantization, path in tflite_paths.items():
        agreement = kdkeras.litert.compare_with_keras(
            reference, path, x_test, verbose=0
        )
        print(
            f"  {quantization}: top-1 agreement with Keras "
            f"{agreement['top1_agreement']:.2%}, max |probability difference| "
            f"{agreement['max_abs_diff']:.4f}"
        )


def quantize_aware_follow_up(student, teacher, train, validation, directory):
    """QAT of the distilled student on the distillation loss (tf_keras, tfmot).

    The teacher's logits are computed once; the int8 file joins the package
    as the `"qat_int8"` variant. Returns its `.tflite` path.
    """
    teacher_logits = kdkeras.caches.compute_teacher_logits(teacher, train[0])
    result = kdkeras.optimize.quantize_aware(
        student,
        train,
        teacher_logits=teacher_logits,
        epochs=1,
        validation_data=validation,
    )
    saved = kdkeras.optimize.save_qat_for_device(
        result,
        directory,
        FASHION_MNIST_CLASS_NAMES,
        overwrite=True,
        check_data=validation,
        representative_data=train[0],  # Calibrates the RGB file's grayscale step.
    )
    print(
        f"  qat_int8: top-1 agreement with the fine-tuned float student "
        f"{saved['check']['top1_agreement']:.2%}"
    )
    return saved["tflite"]


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

    source = args.teacher_weights or "no pretrained weights"
    print(f"\nFine-tuning the MobileNetV2 teacher (from {source})...")
    teacher = fine_tune_teacher(
        train,
        validation,
        args.teacher_weights,
        args.teacher_epochs,
        args.teacher_batch_size,
        args.seed,
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
    teacher = with_view(teacher, build_teacher_view(), train[0].shape[1:])

    save_models({"teacher": teacher, "student_scratch": scratch}, args.output_dir)
    package_dir = os.path.join(args.output_dir, "student_distilled")
    print(f"\nExporting the distilled student to LiteRT ({package_dir}/)...")
    paths = export_for_device(distilled, train[0], package_dir)
    check_exports(distilled, paths["tflite"], test[0])
    if args.qat:
        print("\nQuantization-aware training of the distilled student...")
        paths["tflite"]["qat_int8"] = quantize_aware_follow_up(
            distilled, teacher, train, validation, package_dir
        )

    rows = kdkeras.report.compare_and_report(
        {
            "teacher": teacher,
            "student (scratch)": scratch,
            "student (distilled)": distilled,
            **{
                f"distilled {quantization} .tflite": path
                for quantization, path in paths["tflite"].items()
            },
        },
        *test,
        package_dir,
        class_names=FASHION_MNIST_CLASS_NAMES,
        title="Fashion-MNIST: MobileNetV2 teacher, distilled CNN student",
        num_threads=1,
    )
    print(f"\nOn the {len(test[0])} test images (latency: batch 1, this CPU):\n")
    print(evaluation.format_table(rows, kdkeras.report.report_columns(rows)))
    print(
        f"\nSaved teacher.keras, student_scratch.keras and {package_dir}/ (model, "
        f"LiteRT files, labels, metadata, report) in "
        f"{time.perf_counter() - start:.0f} s."
    )


if __name__ == "__main__":
    main()
