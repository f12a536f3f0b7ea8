"""Transfer learning, then distillation, on real data: the whole path.

1. Build a teacher on a `keras.applications` backbone (MobileNetV2, width
   0.35, by default) with the backbone weights the project pretrained on the
   full Fashion-MNIST (the default, `saved_models/pretrained/`), ImageNet
   weights (`--weights imagenet --size 96`, needs internet), another local
   weights file (`--weights path.weights.h5`) or none (`--weights none`).
2. Fine-tune it in two stages: the head with the backbone frozen, then the top
   of the backbone with a lower learning rate (BatchNorm stays frozen).
3. Distill it into a small CNN that sees 28×28 grayscale images while the
   teacher sees 48×48 RGB with MobileNetV2 preprocessing, both from the same
   augmented batch.
4. Compare teacher, scratch student and distilled student.

    python examples/transfer_learning.py                 # ~4 minutes
    python examples/transfer_learning.py --data full --weights imagenet --size 96
    python examples/transfer_learning.py --quick         # seconds
"""

import argparse
import os

import keras
import numpy as np

import kdkeras
from kdkeras import evaluation
from kdkeras.layers import ImageView
from kdkeras.models.applications import build_student, build_teacher
from kdkeras.models.presets import get_preset

PRETRAINED_BACKBONE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "saved_models",
    "pretrained",
    "mobilenet_v2_0.35_48px_fashion_mnist.weights.h5",
)


def load_data(source, quick):
    if source == "full":
        (x_train, y_train), (x_test, y_test) = kdkeras.datasets.load_fashion_mnist()
    else:
        (x_train, y_train), (x_test, y_test) = (
            kdkeras.datasets.load_embedded_fashion_mnist()
        )
    if quick:
        x_train, y_train, x_test, y_test = (
            x_train[:512],
            y_train[:512],
            x_test[:256],
            y_test[:256],
        )
    return (x_train[..., None], y_train), (x_test[..., None], y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="mobilenet_v2")
    parser.add_argument(
        "--weights",
        default=PRETRAINED_BACKBONE,
        help="'imagenet', 'none' or a weights file",
    )
    parser.add_argument(
        "--width",
        type=float,
        default=None,
        help="Width multiplier of MobileNet backbones (0.35 if not given)",
    )
    parser.add_argument("--data", choices=("embedded", "full"), default="embedded")
    parser.add_argument("--size", type=int, default=48, help="teacher input size")
    parser.add_argument("--head-epochs", type=int, default=2)
    parser.add_argument("--fine-tune-epochs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8, help="student epochs")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.head_epochs = args.fine_tune_epochs = args.epochs = 1
    weights = None if args.weights == "none" else args.weights
    if args.width is None and get_preset(args.backbone).width_multiplier:
        args.width = 0.35

    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_data(args.data, args.quick)
    teacher_view = ImageView(
        size=(args.size, args.size), channels=3, preprocessing=args.backbone
    )

    teacher = build_teacher(
        args.backbone,
        10,
        (args.size, args.size, 3),
        weights=weights,
        width=args.width,
        dropout=0.2,
    )
    if weights is None:
        # keras.applications' BatchNorm momentum (0.999) suits long runs only.
        kdkeras.transfer.set_batch_norm_momentum(teacher, 0.9)
    # Without pretrained weights there is nothing to keep frozen: train all.
    kdkeras.transfer.fine_tune(
        teacher,
        (np.asarray(teacher_view(x_train)), y_train),
        head_epochs=args.head_epochs if weights else 0,
        fine_tune_epochs=args.fine_tune_epochs,
        fine_tune_learning_rate=1e-4 if weights else 1e-3,
        num_unfrozen_layers=30 if weights else None,
        freeze_batch_norm=bool(weights),
        batch_size=64,
        verbose=2,
    )
    # The teacher on raw images, for the comparison table.
    teacher_on_raw = keras.Sequential(
        [keras.Input(x_train.shape[1:]), teacher_view, teacher], name="teacher"
    )

    def student(seed):
        keras.utils.set_random_seed(seed)
        return build_student(
            "cnn",
            10,
            x_train.shape[1:],
            filters=(8, 16),
            dense_units=None,
            pooling="flatten",
        )

    def augmentation():
        # Shifts of up to 1.4 pixels; both students get the same.
        return keras.layers.RandomTranslation(0.05, 0.05, fill_mode="constant")

    # The scratch student learns from the same augmented images as the
    # distilled one: augmentation layers are inactive at inference.
    scratch = student(1)
    scratch_with_augmentation = keras.Sequential(
        [keras.Input(x_train.shape[1:]), augmentation(), scratch]
    )
    scratch_with_augmentation.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    scratch_with_augmentation.fit(
        x_train, y_train, epochs=args.epochs, batch_size=64, verbose=2
    )

    distiller = kdkeras.Distiller(
        teacher,
        student(1),
        teacher_view=teacher_view,
        augmentation=augmentation(),
    )
    distiller.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        metrics=["accuracy"],
        alpha=0.1,
        temperature=2.0,
    )
    distiller.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=2)

    rows = evaluation.compare_models(
        {
            "teacher": teacher_on_raw,
            "student (scratch)": scratch,
            "student (distilled)": distiller.student,
        },
        x_test,
        y_test,
    )
    print(evaluation.format_table(rows))
    return rows


if __name__ == "__main__":
    main()
