"""Test accuracy of trained teachers and of their ensembles, plain and with
test-time augmentation (horizontal flips; with `--shift-tta`, shifts too).

Each teacher is a `tools/train_teacher.py` weights file (with its JSON
beside it). An ensemble's logits are the mean of its members' logits (what
`Distiller(teacher=[...])` and `kdkeras.distillation.average_teacher_logits`
distil from); with flip TTA every member's logits are the mean of those of
the image and of its horizontal flip; with `--shift-tta 1` also over the 9
shifts of the image by up to 1 pixel, each flipped (18 views). Every
combination of two or more teachers is scored on the 10,000 test images of
Fashion-MNIST.

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
from teacher_models import (  # noqa: E402
    load_pretrained_teacher,
    logits_with_flips,
    logits_with_shifts_and_flips,
)


def teacher_logits(path, images, shift=0, batch_size=500):
    """The logits of the teacher in `path` on `images`, by kind of TTA.

    Returns a dict: `"plain"`; `"flip TTA"`, the mean of the logits of the
    image and of its horizontal flip; with `shift` > 0 also `"shift and
    flip TTA"`, the mean over every shift by up to `shift` pixels, each also
    flipped.
    """
    teacher = load_pretrained_teacher(path, flip_tta=False)
    logits, flipped = logits_with_flips(teacher, images, batch_size)
    by_kind = {"plain": logits, "flip TTA": (logits + flipped) / 2}
    if shift:
        by_kind["shift and flip TTA"] = logits_with_shifts_and_flips(
            teacher, images, shift, batch_size, unshifted=(logits, flipped)
        )
    return by_kind


def ensemble_accuracies(names, logits, labels):
    """Accuracy of every teacher and of every combination of two or more.

    Args:
        names: A name per teacher.
        logits: Per teacher, a dict from a kind of TTA to the `(N, classes)`
            logits (`teacher_logits`); every teacher has the same kinds.
        labels: The `(N,)` class ids.

    Returns:
        A list of `(members, {kind: accuracy})`, members a tuple of names,
        single teachers first; an ensemble's logits of a kind are the mean of
        its members' logits of that kind.
    """
    rows = []
    for size in range(1, len(names) + 1):
        for members in itertools.combinations(range(len(names)), size):
            accuracies = {}
            for kind in logits[0]:
                mean = np.mean([logits[i][kind] for i in members], axis=0)
                accuracies[kind] = float(np.mean(np.argmax(mean, axis=-1) == labels))
            rows.append((tuple(names[i] for i in members), accuracies))
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="+", help="tools/train_teacher.py weights")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST folder")
    parser.add_argument(
        "--shift-tta",
        type=int,
        default=0,
        help="also score the mean over shifts by up to N pixels, each flipped",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.shift_tta <= 4:
        parser.error(f"--shift-tta: expected 0 to 4 pixels, received {args.shift_tta}")
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
    names, logits = [], []
    for path in args.weights:
        names.append(os.path.basename(path).removesuffix(".weights.h5"))
        logits.append(teacher_logits(path, x_test, args.shift_tta))
    kinds = list(logits[0])
    print("| teachers (mean logits) | " + " | ".join(kinds) + " |")
    print("|---|" + "---:|" * len(kinds))
    for members, accuracies in ensemble_accuracies(names, logits, y_test):
        cells = " | ".join(f"{accuracies[kind]:.4f}" for kind in kinds)
        print(f"| {' + '.join(members)} | {cells} |")


if __name__ == "__main__":
    main()
