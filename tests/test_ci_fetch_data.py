"""`.ci/fetch_data.py`: CI's download of the loader tests' real data."""

import hashlib
import pathlib

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / ".ci" / "fetch_data.py"


@pytest.fixture(scope="module")
def fetch_data(load_script):
    return load_script(SCRIPT)


def test_a_download_is_kept_only_with_its_sha256(fetch_data, tmp_path):
    source = tmp_path / "source.tgz"
    source.write_bytes(b"real bytes")
    sha256 = hashlib.sha256(b"real bytes").hexdigest()
    target = tmp_path / "copy.tgz"

    assert fetch_data.fetch(source.as_uri(), sha256, str(target)) == str(target)
    assert target.read_bytes() == b"real bytes"

    damaged = tmp_path / "damaged.tgz"
    with pytest.raises(ValueError, match="SHA-256 differs"):
        fetch_data.fetch(source.as_uri(), "0" * 64, str(damaged))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.tgz", "source.tgz"]


def test_a_failed_download_prints_no_export_line(
    fetch_data, tmp_path, capsys, monkeypatch
):
    absent = {"spam_assassin": ((tmp_path / "absent.tgz").as_uri(), "0" * 64)}
    monkeypatch.setattr(fetch_data, "TARBALLS", absent)
    fetch_data.main(str(tmp_path / "data"))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "spam_assassin not fetched" in captured.err


def test_export_lines_survive_a_folder_with_spaces(
    fetch_data, tmp_path, capsys, monkeypatch
):
    tarball = tmp_path / "corpus.tgz"
    tarball.write_bytes(b"corpus")
    sha256 = hashlib.sha256(b"corpus").hexdigest()
    monkeypatch.setattr(
        fetch_data, "TARBALLS", {"spam_assassin": (tarball.as_uri(), sha256)}
    )
    data_dir = tmp_path / "data dir"
    fetch_data.main(str(data_dir))
    line = capsys.readouterr().out.strip()
    assert line == f"export KDKERAS_SPAM_ASSASSIN='{data_dir / 'corpus.tgz'}'"
