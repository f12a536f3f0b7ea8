"""Reading kdkeras' `.npz` caches: NumPy archives read without pickle, whose
damage or foreign format is named with the function that rewrites them."""

import os
import zipfile

import numpy as np


def is_npz(path):
    """Whether `path` names a `.npz` file (the in-memory formats) rather than
    a directory (the sharded ones)."""
    return os.fspath(path).lower().endswith(".npz")


def read_cache_arrays(path, required, writer, kind="teacher-logits cache"):
    """The arrays of a kdkeras `.npz` cache, as a dict, read without pickle.

    Args:
        path: The file.
        required: The names of the arrays it must hold.
        writer: The function that writes such a file (named in errors).
        kind: What the file is, in errors.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is truncated, of another format, or lacks
            one of `required`.
    """
    try:
        stored = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path!r} is not a kdkeras {kind} (truncated, or another format: "
            f"{type(error).__name__}). Recompute it with `{writer}(..., "
            "overwrite=True)`."
        ) from None
    if not isinstance(stored, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path!r} is not a kdkeras {kind}: it holds one array, not the "
            f"`.npz` archive `{writer}` writes."
        )
    with stored:
        missing = set(required) - set(stored.files)
        if missing:
            raise ValueError(
                f"{path!r} is not a kdkeras {kind} written by `{writer}`: it "
                f"lacks {sorted(missing)}."
            )
        try:
            return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"{path!r} is truncated or damaged ({type(error).__name__}). "
                f"Recompute it with `{writer}(..., overwrite=True)`."
            ) from None


def holds_array(path, name):
    """Whether the `.npz` archive at `path` holds an array called `name`
    (`False` for a file that is no archive)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return name in stored.files
    except (
        OSError,
        ValueError,
        EOFError,
        TypeError,
        AttributeError,
        zipfile.BadZipFile,
    ):
        return False
