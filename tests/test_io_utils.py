import os
import signal
import subprocess
import sys
import textwrap

import keras
import pytest

from kdkeras.io_utils import atomic_path, remove_stale_partials


def test_writes_by_rename(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with atomic_path(target) as temporary:
        assert temporary != str(target)
        with open(temporary, "w") as file:
            file.write("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_failure_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target, overwrite=True) as temporary:
            with open(temporary, "w") as file:
                file.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_existing_file_needs_overwrite(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with atomic_path(target):
            pass
    assert target.read_text() == "mine"


def test_file_gets_the_usual_permissions(tmp_path):
    target = tmp_path / "file.txt"
    with atomic_path(target) as temporary:
        with open(temporary, "w") as file:
            file.write("x")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert target.stat().st_mode == plain.stat().st_mode


def test_temporary_path_keeps_the_full_extension(tmp_path):
    # Keras' save_weights refuses a path that does not end with ".weights.h5".
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "model.weights.h5"
    with atomic_path(path) as temporary_path:
        assert temporary_path.endswith("model.weights.h5")
        model.save_weights(temporary_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.weights.h5"]


def test_a_killed_writers_partial_file_is_removed_by_the_next_write(tmp_path):
    """A real `kill -9` mid-write: the target is untouched, and the partial file
    it leaves is removed by the next write into the directory."""
    target = tmp_path / "cache.npz"
    target.write_bytes(b"old")
    script = textwrap.dedent(
        f"""
        import sys, time
        from kdkeras.io_utils import atomic_path, remove_stale_partials
        with atomic_path({str(target)!r}, overwrite=True) as temporary_path:
            with open(temporary_path, "wb") as file:
                file.write(b"x" * 1_000_000)
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "writing"
    partials = list(tmp_path.glob(".partial-*"))
    assert len(partials) == 1 and partials[0].stat().st_size == 1_000_000
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert target.read_bytes() == b"old"
    assert list(tmp_path.glob(".partial-*")) == partials  # nobody cleaned up
    with atomic_path(tmp_path / "other.txt") as temporary_path:
        # Our own partial file is kept while we write; the dead one is gone.
        assert [p.name for p in tmp_path.glob(".partial-*")] == [
            os.path.basename(temporary_path)
        ]
        open(temporary_path, "w").write("new")
    assert not list(tmp_path.glob(".partial-*"))
    assert target.read_bytes() == b"old"


def test_partial_files_of_live_writers_are_kept(tmp_path):
    live = tmp_path / f".partial-{os.getpid()}-abc-file.txt"
    live.write_text("in progress")
    foreign = tmp_path / ".partial-notapid-file.txt"
    foreign.write_text("?")
    assert remove_stale_partials(str(tmp_path)) == []
    assert live.exists() and foreign.exists()
