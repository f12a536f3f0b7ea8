"""Pretrains the backbone that `make demo` fine-tunes into its teacher.

Trains a `keras.applications.MobileNetV2` (width 0.35, 48×48 RGB input, no
ImageNet weights) with a 10-class head on the full Fashion-MNIST training set
(60,000 images, from the Debian package `dataset-fashion-mnist` or a
download), then saves the backbone's weights only (1.7 MB): the demo attaches
a new head and fine-tunes it in two stages on the embedded subset, as one
would with ImageNet weights.

Usage (from the repository root, about 20 minutes on 2 CPU cores):

    sudo apt-get install dataset-fashion-mnist  # or let Keras download it
    python tools/pretrain_backbone.py
"""

import argparse
import json
import math
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import keras  # noqa: E402

from kdkeras import evaluation  # noqa: E402
from kdkeras.datasets import load_fashion_mnist  # noqa: E402
from kdkeras.io_utils import atomic_path  # noqa: E402
from kdkeras.layers import ImageView  # noqa: E402
from kdkeras.models import build_teacher  # noqa: E402
from kdkeras.models.transfer import set_batch_norm_momentum  # noqa: E402

PRESET = "mobilenet_v2"
WIDTH = 0.35
SIZE = 48
OUTPUT = os.path.join(
    REPO_ROOT,
    "saved_models",
    "pretrained",
    f"{PRESET}_{WIDTH}_{SIZE}px_fashion_mnist.weights.h5",
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    x_train, x_test = x_train[..., None], x_test[..., None]
    teacher = build_teacher(
        PRESET, 10, (SIZE, SIZE, 3), weights=None, width=WIDTH, dropout=0.2
    )
    # Few thousand steps: the backbone's default 0.999 would leave the moving
    # statistics unconverged.
    set_batch_norm_momentum(teacher, 0.9)
    view = ImageView(size=(SIZE, SIZE), channels=3, preprocessing=PRESET)
    model = keras.Sequential([keras.Input((28, 28, 1)), view, teacher])
    steps = args.epochs * math.ceil(len(x_train) / args.batch_size)
    model.compile(
        keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
        ),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2
    )
    rows = evaluation.compare_models({"pretrained": model}, x_test, y_test)
    print(evaluation.format_table(rows))

    with atomic_path(args.output, overwrite=True) as temporary_path:
        teacher.get_layer("backbone").save_weights(temporary_path)
    summary = {
        "preset": PRESET,
        "width": WIDTH,
        "input_shape": [SIZE, SIZE, 3],
        "epochs": args.epochs,
        "seed": args.seed,
        "test_accuracy": rows[0]["accuracy"],
        "seconds": round(time.perf_counter() - start),
    }
    with atomic_path(args.output + ".json", overwrite=True) as temporary_path:
        with open(temporary_path, "w") as file:
            json.dump(summary, file, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
