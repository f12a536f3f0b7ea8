"""The cost of `kdkeras.export.DeploymentCheck`: seconds per check against
seconds per epoch, for the demo's student.

Trains the demo's 9,170-parameter CNN (`build_cnn(filters=(8, 16),
dense_units=None, pooling="flatten")`) on the embedded Fashion-MNIST as
`kdkeras run examples/configs/demo.yaml` would (9,000 training images, batch
64), with a check after every epoch configured as the run's default: 500
held-out images, calibration on the training images, 50 timed batch-1 runs.
Two timing callbacks around the check split each epoch into training and
checking, in wall time and in process CPU time (all threads), so a shared,
loaded machine shows up as a gap between the two.

    python benchmarks/deployment_check.py            # 4 epochs, ~1-2 minutes
    python benchmarks/deployment_check.py --quick    # smoke test
"""

import argparse
import datetime
import os
import platform
import statistics
import time

import keras
from result_files import write_result

from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.export import DeploymentCheck
from kdkeras.models import build_cnn


class Clock(keras.callbacks.Callback):
    """Wall and CPU time at each epoch's start and at this callback's end."""

    def __init__(self):
        super().__init__()
        self.starts, self.ends = [], []

    @staticmethod
    def now():
        return time.perf_counter(), time.process_time()

    def on_epoch_begin(self, epoch, logs=None):
        self.starts.append(self.now())

    def on_epoch_end(self, epoch, logs=None):
        self.ends.append(self.now())


def durations(starts, ends):
    """`(wall, cpu)` seconds of each `(start, end)` pair."""
    return [
        (end[0] - start[0], end[1] - start[1])
        for start, end in zip(starts, ends, strict=True)
    ]


def median(values):
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="2 epochs, 2,000 images")
    parser.add_argument(
        "--result",
        default=None,
        help="result file (default benchmarks/results/deployment_check.json; "
        "--quick writes none)",
    )
    args = parser.parse_args()
    epochs = 2 if args.quick else args.epochs
    (x_train, y_train), _ = load_embedded_fashion_mnist()
    x_train = x_train[..., None]
    num_train = 2000 if args.quick else 9000
    x_fit, y_fit = x_train[:num_train], y_train[:num_train]
    x_held_out, y_held_out = x_train[9000:9500], y_train[9000:9500]

    keras.utils.set_random_seed(0)
    student = build_cnn(filters=(8, 16), dense_units=None, pooling="flatten")
    student.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    check = DeploymentCheck(
        x_held_out, y_held_out, representative_data=x_fit, latency_runs=50
    )
    before, after = Clock(), Clock()
    student.fit(
        x_fit,
        y_fit,
        epochs=epochs,
        batch_size=64,
        verbose=2,
        callbacks=[before, check, after],
    )
    training = durations(before.starts, before.ends)
    checking = durations(before.ends, after.ends)

    print(
        f"\n{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; {student.count_params():,} parameters, "
        f"{num_train:,} training images, {len(x_held_out)} held out\n"
    )
    print("| epoch | train wall s | train CPU s | check wall s | check CPU s |")
    print("|---:|---:|---:|---:|---:|")
    for epoch, ((train_wall, train_cpu), (check_wall, check_cpu)) in enumerate(
        zip(training, checking, strict=True), start=1
    ):
        print(
            f"| {epoch} | {train_wall:.1f} | {train_cpu:.1f} | {check_wall:.1f} "
            f"| {check_cpu:.1f} |"
        )
    # The first epoch traces the training step and the first check the
    # converter: the later ones are the steady state.
    steady = slice(1, None) if epochs > 1 else slice(None)
    train_wall = median([wall for wall, _ in training[steady]])
    train_cpu = median([cpu for _, cpu in training[steady]])
    check_wall = median([wall for wall, _ in checking[steady]])
    check_cpu = median([cpu for _, cpu in checking[steady]])
    print(
        f"\nAfter the first epoch (medians): {check_wall:.1f} s per check against "
        f"{train_wall:.1f} s per epoch (wall, ratio {check_wall / train_wall:.2f}); "
        f"CPU {check_cpu:.1f} s against {train_cpu:.1f} s "
        f"(ratio {check_cpu / train_cpu:.2f})."
    )
    last = check.results[-1]
    print(
        f"Last check: int8 accuracy {last['int8_accuracy']:.4f} (float "
        f"{last['float_accuracy']:.4f}), agreement {last['int8_agreement']:.4f}, "
        f"{last['int8_size_bytes']:,} bytes, {last['int8_latency_ms']:.3f} ms."
    )
    if args.result or not args.quick:
        write_result(
            "deployment_check",
            args.result,
            seeds=[0],
            load_average=round(os.getloadavg()[0], 2),
            parameters=student.count_params(),
            training_images=num_train,
            held_out_images=len(x_held_out),
            runs=[
                {
                    "epoch": epoch,
                    "train_seconds": {"wall": round(t[0], 2), "cpu": round(t[1], 2)},
                    "check_seconds": {"wall": round(c[0], 2), "cpu": round(c[1], 2)},
                    "check": check.results[epoch - 1],
                }
                for epoch, (t, c) in enumerate(
                    zip(training, checking, strict=True), start=1
                )
            ],
        )


if __name__ == "__main__":
    main()
