"""`kill -9` with real processes: training resumes without losing an epoch,
and a killed cache or export write leaves no file or the previous one.

Each test runs kdkeras in a child process, stops it at a known point (the
child says where it is, then waits), kills it with SIGKILL and checks what
is on disk. (`tests/test_io_utils.py` kills a bare `atomic_path` writer.)
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest

from kdkeras import caches
from kdkeras.export import export_litert
from kdkeras.io_utils import remove_stale_partials
from kdkeras.litert import LiteRTModel

pytestmark = pytest.mark.slow

_TIMEOUT = 300

_FIT_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import keras
    import numpy as np
    import kdkeras

    backup, progress, weights, pause_after = sys.argv[1:5]
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (np.arange(64) % 3).astype("int32")
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    student = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
         keras.layers.Dense(3)]
    )
    distiller = kdkeras.Distiller(teacher=teacher, student=student)
    distiller.compile(
        optimizer=keras.optimizers.Adam(0.01), alpha=0.5, temperature=2.0
    )

    class Progress(keras.callbacks.Callback):
        # After BackupAndRestore in the list: the epoch is backed up first.
        def on_epoch_end(self, epoch, logs=None):
            with open(progress, "a") as file:
                file.write(f"{epoch} {logs['loss']!r}\\n")
                file.flush()
                os.fsync(file.fileno())
            if epoch == int(pause_after):
                time.sleep(600)  # the parent kills us here

    distiller.fit(
        x, y, batch_size=16, epochs=4, shuffle=False, verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup), Progress()],
    )
    np.savez(weights, *student.get_weights())
    """
)


def _start(script, *arguments):
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, arguments)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _finish(process):
    process.communicate(timeout=_TIMEOUT)
    assert process.returncode == 0


def _kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def _wait_for_lines(path, count, process):
    deadline = time.monotonic() + _TIMEOUT
    while time.monotonic() < deadline:
        if os.path.exists(path) and len(open(path).read().splitlines()) >= count:
            return
        assert process.poll() is None, "the child ended before it was killed"
        time.sleep(0.2)
    raise TimeoutError(f"{path} did not reach {count} lines")


def _progress(path):
    epochs, losses = [], []
    for line in open(path).read().splitlines():
        epoch, loss = line.split()
        epochs.append(int(epoch))
        losses.append(float(loss))
    return epochs, losses


def test_fit_killed_after_an_epoch_resumes_with_no_epoch_lost(tmp_path):
    plain, killed = tmp_path / "plain", tmp_path / "killed"
    plain.mkdir(), killed.mkdir()
    uninterrupted = _start(
        _FIT_SCRIPT, plain / "backup", plain / "progress", plain / "w.npz", -1
    )
    arguments = (killed / "backup", killed / "progress", killed / "w.npz")
    interrupted = _start(_FIT_SCRIPT, *arguments, 1)
    _wait_for_lines(killed / "progress", 2, interrupted)
    _kill(interrupted)  # after epoch 1 has finished and been backed up
    assert _progress(killed / "progress")[0] == [0, 1]
    assert not (killed / "w.npz").exists()
    assert (killed / "backup").is_dir()

    _finish(_start(_FIT_SCRIPT, *arguments, -1))  # the same command again
    _finish(uninterrupted)
    epochs, losses = _progress(killed / "progress")
    expected_epochs, expected_losses = _progress(plain / "progress")
    # Resumed at epoch 2: no epoch redone, none lost, the same losses.
    assert epochs == expected_epochs == [0, 1, 2, 3]
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-5)
    resumed, reference = np.load(killed / "w.npz"), np.load(plain / "w.npz")
    assert len(resumed.files) == len(reference.files) == 4
    for name in reference.files:
        np.testing.assert_allclose(resumed[name], reference[name], atol=1e-6)
    assert not (killed / "backup").exists()  # removed once training ended


_CACHE_SCRIPT = textwrap.dedent(
    """
    import io, sys, time
    import numpy as np
    from kdkeras import caches

    path = sys.argv[1]
    real_savez = np.savez_compressed

    def write_half_then_wait(file, **arrays):
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        data = buffer.getvalue()
        file.write(data[: len(data) // 2])
        file.flush()
        print("half written", flush=True)
        time.sleep(600)  # the parent kills us here

    np.savez_compressed = write_half_then_wait
    x = np.arange(200 * 4, dtype="float32").reshape(200, 4)
    logits = np.random.default_rng(1).normal(size=(200, 10)).astype("float32")
    caches.save_teacher_logits(path, logits, x, "teacher-v2", overwrite=True)
    """
)


def test_a_cache_write_killed_mid_write_leaves_the_previous_cache(tmp_path):
    x = np.arange(200 * 4, dtype="float32").reshape(200, 4)
    old_logits = np.random.default_rng(0).normal(size=(200, 10)).astype("float32")
    # Two writers at once: over a previous cache, and where there is none.
    directories = {previous: tmp_path / str(previous) for previous in (True, False)}
    caches.save_teacher_logits(
        directories[True] / "teacher.npz", old_logits, x, "teacher-v1"
    )
    directories[False].mkdir()
    writers = {
        previous: _start(_CACHE_SCRIPT, directory / "teacher.npz")
        for previous, directory in directories.items()
    }
    for previous, writer in writers.items():
        directory = directories[previous]
        assert writer.stdout.readline().strip() == "half written"
        partials = list(directory.glob(".partial-*"))
        assert len(partials) == 1 and partials[0].stat().st_size > 0
        _kill(writer)
        if previous:
            loaded = caches.load_teacher_logits(
                directory / "teacher.npz", x, teacher="teacher-v1"
            )
            np.testing.assert_array_equal(loaded, old_logits)
        else:
            assert not (directory / "teacher.npz").exists()
        assert remove_stale_partials(str(directory)) == [str(partials[0])]
        assert sorted(p.name for p in directory.iterdir()) == (
            ["teacher.npz"] if previous else []
        )


_EXPORT_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from kdkeras.export import converter

    keras_path, target, stage = sys.argv[1:4]

    def wait():
        print("paused", flush=True)
        time.sleep(600)  # the parent kills us here

    if stage == "converting":
        real_convert = converter._convert

        def convert_half(model, path, options):
            real_convert(model, path, options)
            with open(path, "r+b") as file:
                file.truncate(os.path.getsize(path) // 2)
            wait()

        converter._convert = convert_half
    else:
        converter.verify.verify_tflite = lambda *args, **kwargs: wait()
    converter.export_litert(keras_path, target, overwrite=True)
    """
)


def _model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


@pytest.mark.tensorflow
def test_an_export_killed_mid_write_leaves_the_previous_file(tmp_path):
    old_model, new_model = _model(0), _model(1)
    new_model.save(tmp_path / "new.keras")
    # Two writers at once: one killed with half a file over a previous
    # export, one killed before the check of a complete file, with no target.
    cases = {"converting": tmp_path / "previous", "verifying": tmp_path / "none"}
    export_litert(old_model, cases["converting"] / "model.tflite")
    old_bytes = (cases["converting"] / "model.tflite").read_bytes()
    cases["verifying"].mkdir()
    writers = {
        stage: _start(
            _EXPORT_SCRIPT, tmp_path / "new.keras", directory / "model.tflite", stage
        )
        for stage, directory in cases.items()
    }
    for stage, writer in writers.items():
        directory = cases[stage]
        target = directory / "model.tflite"
        assert writer.stdout.readline().strip() == "paused"
        partials = list(directory.glob(".partial-*"))
        assert len(partials) == 1 and partials[0].stat().st_size > 0
        _kill(writer)
        if stage == "converting":
            assert target.read_bytes() == old_bytes
            x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
            np.testing.assert_allclose(
                LiteRTModel(target).predict(x),
                old_model.predict(x, verbose=0),
                atol=1e-5,
            )
        else:
            assert not target.exists()
        assert remove_stale_partials(str(directory)) == [str(partials[0])]
