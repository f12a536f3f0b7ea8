"""The files a sharded cache's manifest names: described when written (name,
size, SHA-256) and checked when the cache is opened, so that a shard or
parameter file that is missing, damaged, swapped in from another cache or
named outside the cache folder is refused by name before anything reads it.
"""

import hashlib
import os

_CHUNK = 4 * 2**20


def sha256_of(path):
    """The SHA-256 hex digest of the file at `path`, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(directory, name, **fields):
    """`{"file": name, "bytes": …, "sha256": …, **fields}` of a written file."""
    path = os.path.join(os.fspath(directory), name)
    return {
        "file": name,
        "bytes": os.path.getsize(path),
        "sha256": sha256_of(path),
        **fields,
    }


def contained_path(directory, name, writer):
    """The path of the file `name` of the cache in `directory`.

    Raises:
        ValueError: Unless `name` is a plain file name (no directory part,
            no `..`, not absolute) whose real path, symbolic links resolved,
            is inside `directory`.
    """
    directory = os.fspath(directory)
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or os.path.basename(name) != name
        or "/" in name
        or "\\" in name
    ):
        raise ValueError(
            f"The manifest of the cache {directory!r} names the file {name!r}: "
            "expected a plain file name inside the cache folder. Recompute the "
            f"cache with `{writer}(..., overwrite=True)`."
        )
    path = os.path.join(directory, name)
    inside = os.path.realpath(directory)
    if os.path.dirname(os.path.realpath(path)) != inside:
        raise ValueError(
            f"The file {path!r} of the cache links outside the cache folder "
            f"({os.path.realpath(path)!r}). Recompute the cache with "
            f"`{writer}(..., overwrite=True)`."
        )
    return path


def check_files(directory, files, writer):
    """Raises `ValueError` unless each `{"file", "bytes", "sha256"}` of
    `files` is inside `directory`, of its size, and of its contents."""
    for described in files:
        path = contained_path(directory, described["file"], writer)
        size = os.path.getsize(path) if os.path.isfile(path) else None
        if size != described["bytes"] or sha256_of(path) != described["sha256"]:
            state = "missing" if size is None else "damaged or from another cache"
            raise ValueError(
                f"The file {path!r} of the cache is {state} ({size} bytes, "
                f"{described['bytes']} written; its SHA-256 is checked too). "
                f"Recompute the cache with `{writer}(..., overwrite=True)`."
            )
