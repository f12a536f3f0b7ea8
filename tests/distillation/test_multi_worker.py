"""The Distiller on two worker processes with `MultiWorkerMirroredStrategy`.

Each test starts two workers on localhost (`TF_CONFIG` with free ports, new
ones if another process takes them first) that run `multi_worker_run.py`.
The equality test runs the same code in its own process, with no strategy,
as the single-process reference; the kill test compares with an
uninterrupted pair of workers. A global batch of 64 is split by
tf.distribute's auto-sharding with the DATA policy (NumPy arrays: set by
Keras; an in-memory `tf.data` pipeline: AUTO falls back to DATA, having no
files to shard): worker 0 gets the first 32 examples of every global batch,
worker 1 the last 32.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from kdkeras import caches
from kdkeras.datasets import load_embedded_fashion_mnist
from kdkeras.models import build_cnn

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

RUN = Path(__file__).with_name("multi_worker_run.py")
_DEADLINE = 480  # seconds for one phase; pytest-timeout stops the test later.
_PORT_CLASH = "Could not start gRPC server"


class _PortClash(Exception):
    """A worker could not listen on its port: another process took it."""


def _free_ports(count):
    """`count` distinct ports that were free on every interface just now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _start(arguments, log, ports=None, index=None):
    environment = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }
    environment.pop("TF_CONFIG", None)
    if ports is not None:
        cluster = {"worker": [f"localhost:{port}" for port in ports]}
        task = {"type": "worker", "index": index}
        environment["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": task})
    with open(log, "a") as stderr:
        return subprocess.Popen(
            [sys.executable, str(RUN), *map(str, arguments)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def _start_workers(arguments, directory, ports):
    return [
        _start(arguments, directory / f"worker-{index}.log", ports, index)
        for index in range(len(ports))
    ]


def _wait(processes, logs, until=None):
    """Waits for every process to end with 0, or for `until()` to be true."""
    deadline = time.monotonic() + _DEADLINE
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() not in (None, 0):
                text = Path(log).read_text()
                if _PORT_CLASH in text:
                    raise _PortClash(text[-2000:])
                raise AssertionError(
                    f"{log} ended with {process.returncode}:\n{text[-3000:]}"
                )
        if until is not None and until():
            return
        if until is None and all(process.poll() == 0 for process in processes):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{logs} did not finish in {_DEADLINE} s")


def _kill(processes):
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def _run_workers(arguments, directory, ports=None, until=None, attempts=3):
    """Starts both workers; on a port clash, again on fresh ports.

    Returns once both listen on their ports and `until()` is true.

    Returns:
        The processes, maybe still running, and the ports.
    """
    logs = [directory / f"worker-{index}.log" for index in range(2)]
    markers = [directory / f"{index}.started" for index in range(2)]

    def ready():
        return all(marker.exists() for marker in markers) and (until is None or until())

    for _ in range(attempts):
        ports = ports or _free_ports(2)
        for marker in markers:
            marker.unlink(missing_ok=True)
        processes = _start_workers(arguments, directory, ports)
        try:
            _wait(processes, logs, ready)
            return processes, ports
        except _PortClash:
            _kill(processes)
            ports = None
        except BaseException:
            _kill(processes)
            raise
    raise AssertionError(f"no free ports in {attempts} attempts")


def _teacher_cache(directory):
    """Teacher logits of the 256 images, cached; and the teacher's fingerprint."""
    (x, _), _ = load_embedded_fashion_mnist()
    keras.utils.set_random_seed(7)
    teacher = build_cnn(filters=(8,), dense_units=None)
    path = directory / "teacher_logits.npz"
    caches.cache_teacher_logits(teacher, x[:256, ..., None], path)
    return path, caches.fingerprint_teacher(teacher)


def _assert_same_run(got, expected, atol):
    assert set(got["history"]) == set(expected["history"])
    for key, values in expected["history"].items():
        np.testing.assert_allclose(got["history"][key], values, atol=atol, err_msg=key)
    for got_weight, weight in zip(got["weights"], expected["weights"], strict=True):
        np.testing.assert_allclose(got_weight, weight, atol=atol)


@pytest.mark.timeout(900)
def test_two_workers_distill_as_one_process_on_the_global_batch(tmp_path, load_script):
    cache, fingerprint = _teacher_cache(tmp_path)
    processes, _ = _run_workers(["equality", tmp_path, cache, fingerprint], tmp_path)
    try:
        # `multi_worker_run.py` as a module: the reference, in this process.
        assert "TF_CONFIG" not in os.environ
        load_script(RUN).equality(tmp_path, cache, fingerprint)
        _wait(processes, [tmp_path / f"worker-{index}.log" for index in range(2)])
    finally:
        _kill(processes)
    single, *workers = (
        json.loads((tmp_path / f"{name}.json").read_text())
        for name in ("single", "0", "1")
    )

    assert single["replicas"] == 1
    assert [worker["replicas"] for worker in workers] == [2, 2]
    # DATA sharding: each global batch of 64 is split in two halves, in order.
    assert single["ids"][0][0] == list(range(64))
    for index, worker in enumerate(workers):
        assert worker["ids"][0] == [
            list(range(start + 32 * index, start + 32 * index + 32))
            for start in range(0, 256, 64)
        ]
    # A seeded shuffle: the same order on both workers, so their halves make
    # up each global batch and every example comes once per epoch; a new
    # order at each epoch.
    epochs = [
        [first + second for first, second in zip(*batches, strict=True)]
        for batches in zip(*(worker["shuffled_ids"] for worker in workers), strict=True)
    ]
    for epoch in epochs:
        assert sorted(i for batch in epoch for i in batch) == list(range(256))
    assert epochs[0] != epochs[1]

    for mode in ("online", "offline"):
        expected = single[mode]
        assert {
            "loss",
            "student_loss",
            "distillation_loss",
            "accuracy",
            "alpha",
        } <= set(expected["history"])
        for worker in workers:
            _assert_same_run(worker[mode], expected, atol=1e-5)
        # The workers hold one model: their copies are identical.
        for first, second in zip(*(w[mode]["weights"] for w in workers), strict=True):
            np.testing.assert_array_equal(first, second)
    for worker in workers:
        assert set(worker["online"]["evaluation"]) == {"loss", "accuracy"}
        for key, value in single["online"]["evaluation"].items():
            np.testing.assert_allclose(
                worker["online"]["evaluation"][key], value, atol=1e-5, err_msg=key
            )


def _progress(path):
    lines = [line.split() for line in Path(path).read_text().splitlines()]
    return [int(epoch) for epoch, _ in lines], [float(loss) for _, loss in lines]


@pytest.mark.timeout(900)
def test_workers_killed_after_an_epoch_resume_with_no_epoch_lost(tmp_path):
    """Killed with `kill -9` and restarted, the workers end where an
    uninterrupted pair does: the same losses per epoch, the same weights.

    The reference is two workers too: a run on two workers is deterministic
    (the all-reduce of two values is one addition, which commutes), while
    one process rounds differently and Adam amplifies it over 16 steps.
    """
    plain_dir, run_dir = tmp_path / "uninterrupted", tmp_path / "killed"
    plain_dir.mkdir(), run_dir.mkdir()
    backup = run_dir / "backup"
    plain, processes = [], []
    try:
        plain, _ = _run_workers(
            ["resume", plain_dir, plain_dir / "backup", -1], plain_dir
        )
        # The chief sleeps after epoch 1; worker 1 goes on into epoch 2 and
        # waits for it inside the first step.
        processes, ports = _run_workers(
            ["resume", run_dir, backup, 1],
            run_dir,
            until=lambda: all(
                (run_dir / f"{index}.progress").exists()
                and (run_dir / f"{index}.progress").read_text().count("\n") == 2
                for index in range(2)
            ),
        )
        for process in (processes[1], processes[0]):  # mid-step, then the chief
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
            assert process.returncode == -signal.SIGKILL
        for index in range(2):
            assert _progress(run_dir / f"{index}.progress")[0] == [0, 1]
            assert not (run_dir / f"{index}.npz").exists()
            metadata = backup / f"worker-{index}" / "training_metadata.json"
            assert json.loads(metadata.read_text())["epoch"] == 2

        # The same command again (new ports only if these were taken).
        processes, _ = _run_workers(["resume", run_dir, backup, -1], run_dir, ports)
        for directory, pair in ((run_dir, processes), (plain_dir, plain)):
            _wait(pair, [directory / f"worker-{index}.log" for index in range(2)])
    finally:
        _kill([*plain, *processes])

    for index in range(2):
        epochs, losses = _progress(run_dir / f"{index}.progress")
        expected_epochs, expected_losses = _progress(plain_dir / f"{index}.progress")
        # Resumed at epoch 2: none redone, none lost.
        assert epochs == expected_epochs == [0, 1, 2, 3]
        np.testing.assert_allclose(losses, expected_losses, rtol=1e-6)
        weights = np.load(run_dir / f"{index}.npz")
        expected = np.load(plain_dir / f"{index}.npz")
        assert len(weights.files) == len(expected.files) > 0
        for name in expected.files:
            np.testing.assert_allclose(weights[name], expected[name], atol=1e-6)
    assert not any(backup.iterdir())  # each worker removed its backup at the end
