"""Test accuracy of trained teachers and of their ensembles, plain and with
horizontal-flip TTA.

Each teacher is a `tools/train_teacher.py` weights file (with its JSON
beside it). An ensemble's logits are the mean of its members' logits (what
`Distiller(teacher=[...])` and `kdkeras.distillation.average_teacher_logits`
distil from); with flip TTA every member's logits are the mean of those of
the image and of its horizontal flip. Every combination of two or more
teachers is scored on the 10,000 test images of Fashion-MNIST.

    python tools/evaluate_teachers.py \\
        saved_models/pretrained/fashion_mnist_vgg_teacher.weights.h5 \\
        saved_models/pretrained/fashion_mnist_vgg_wide_teacher.weights.h5
"""

import argparse
import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from teacher_models import load_pretrained_teacher, logits_with_flips  # noqa: E402


def teacher_logits(path, images, batch_size=500):
    """The logits of the teacher in `path` on `images` and on their flips."""
    teacher = load_pretrained_teacher(path, flip_tta=False)
    return logits_with_flips(teacher, images, batch_size)


def ensemble_accuracies(names, logits, flipped_logits, labels):
    """Accuracy of every teacher and of every combination of two or more.

    Args:
        names: A name per teacher.
        logits: A `(N, classes)` array per teacher, on the plain images.
        flipped_logits: The same on the horizontally flipped images.
        labels: The `(N,)` class ids.

    Returns:
        A list of `(members, plain accuracy, flip-TTA accuracy)`, members a
        tuple of names; single teachers first.
    """
    rows = []
    for size in range(1, len(names) + 1):
        for members in itertools.combinations(range(len(names)), size):
            plain = np.mean([logits[i] for i in members], axis=0)
            tta = np.mean(
                [(logits[i] + flipped_logits[i]) / 2 for i in members], axis=0
            )
            rows.append(
                (
                    tuple(names[i] for i in members),
                    float(np.mean(np.argmax(plain, axis=-1) == labels)),
                    float(np.mean(np.argmax(tta, axis=-1) == labels)),
                )
            )
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="+", help="tools/train_teacher.py weights")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST folder")
    args = parser.parse_args(argv)
    for path in args.weights:
        for required in (path, path + ".json"):
            if not os.path.exists(required):
                parser.error(
                    f"weights: expected a tools/train_teacher.py weights file "
                    f"with its JSON beside it; {required!r} does not exist"
                )
    return args


def main(argv=None):
    args = parse_args(argv)
    import kdkeras

    _, (x_test, y_test) = kdkeras.datasets.load_fashion_mnist(path=args.data_path)
    x_test = x_test[..., None]
    names, logits, flipped = [], [], []
    for path in args.weights:
        names.append(os.path.basename(path).removesuffix(".weights.h5"))
        plain_logits, flipped_logits = teacher_logits(path, x_test)
        logits.append(plain_logits)
        flipped.append(flipped_logits)
    print("| teachers (mean logits) | test accuracy | flip TTA |")
    print("|---|---:|---:|")
    for members, plain, tta in ensemble_accuracies(names, logits, flipped, y_test):
        print(f"| {' + '.join(members)} | {plain:.4f} | {tta:.4f} |")


if __name__ == "__main__":
    main()
