import keras
import pytest

from kdkeras.io_utils import atomic_path


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
