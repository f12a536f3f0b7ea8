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
    monkeypatch.setattr(fetch_data, "BACKOFF_SECONDS", 0.0)
    fetch_data.main(str(tmp_path / "data"))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "spam_assassin not fetched" in captured.err
    assert "will fail where CI=true" in captured.err
    assert captured.err.count("retrying") == fetch_data.ATTEMPTS - 1


def test_a_network_error_is_retried_with_backoff(fetch_data, tmp_path, monkeypatch):
    source = tmp_path / "source.tgz"
    source.write_bytes(b"real bytes")
    sha256 = hashlib.sha256(b"real bytes").hexdigest()
    download = fetch_data._download
    failures = [OSError("connection reset"), OSError("timed out")]

    def flaky(url, expected, path):
        if failures:
            raise failures.pop(0)
        return download(url, expected, path)

    monkeypatch.setattr(fetch_data, "_download", flaky)
    waits = []
    target = tmp_path / "copy.tgz"
    fetch_data.fetch(source.as_uri(), sha256, str(target), sleep=waits.append)
    assert target.read_bytes() == b"real bytes"
    assert waits == [fetch_data.BACKOFF_SECONDS, 2 * fetch_data.BACKOFF_SECONDS]

    failures[:] = [OSError(f"down {n}") for n in range(fetch_data.ATTEMPTS)]
    waits.clear()
    with pytest.raises(OSError, match=f"down {fetch_data.ATTEMPTS - 1}"):
        fetch_data.fetch(
            source.as_uri(), sha256, str(tmp_path / "b"), sleep=waits.append
        )
    assert len(waits) == fetch_data.ATTEMPTS - 1

    # A SHA-256 that differs is no network error: not retried.
    waits.clear()
    with pytest.raises(ValueError, match="SHA-256 differs"):
        fetch_data.fetch(
            source.as_uri(), "0" * 64, str(tmp_path / "c"), sleep=waits.append
        )
    assert waits == []


def test_ci_run_makes_missing_data_fail():
    run = (SCRIPT.parent / "run").read_text(encoding="utf-8")
    assert 'export CI="${CI:-true}"' in run
    assert run.index("export CI=") < run.index("make test")


@pytest.fixture
def root_conftest(request):
    """tests/conftest.py, as pytest loaded it."""
    return next(
        plugin
        for plugin in request.config.pluginmanager.get_plugins()
        if hasattr(plugin, "missing_data")
        and hasattr(plugin, "full_fashion_mnist_found")
    )


def test_a_missing_data_set_skips_but_fails_in_ci(root_conftest, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no corpus"):
        root_conftest.missing_data("no corpus")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no corpus.*CI=true"):
        root_conftest.missing_data("no corpus")


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
