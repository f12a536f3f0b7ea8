"""Checks that a file is what it claims to be, from its first bytes.

A `.tflite` file is a FlatBuffer whose identifier, bytes 4 to 8, is `TFL3`;
a `.keras` file (and an `.npz`) is a zip archive; a legacy `.h5` is HDF5.
"""

import os

_SIGNATURES = (
    (0, b"PK\x03\x04", "a zip archive (a .keras model or an .npz file)"),
    (0, b"\x89HDF\r\n\x1a\n", "an HDF5 file (a legacy .h5 Keras model)"),
    (4, b"TFL3", "a LiteRT (.tflite) model"),
)


def describe_file(path):
    """What the first bytes of `path` say it is, e.g. `"a zip archive (…)"`."""
    with open(path, "rb") as file:
        head = file.read(16)
    for offset, signature, description in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return description
    return f"a file of {os.path.getsize(path)} bytes of another format"


def check_path(path, argument_name):
    """Returns `path` as a `str`; raises `TypeError` unless it is a path."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(
            f"`{argument_name}` must be a file path (str or os.PathLike). "
            f"Received: {argument_name}={path!r} of type {type(path).__name__}"
        )
    path = os.fspath(path)
    return os.fsdecode(path)


def check_existing_file(path, argument_name, expected="an existing file"):
    """Returns `path` as a `str` if it is an existing file.

    Raises:
        TypeError: If `path` is not a path.
        FileNotFoundError: If nothing, or a directory, is at `path`.
    """
    path = check_path(path, argument_name)
    if not os.path.isfile(path):
        found = "a directory" if os.path.isdir(path) else "nothing"
        raise FileNotFoundError(
            f"`{argument_name}` must be {expected}. Received: "
            f"{argument_name}={path!r}, where there is {found}"
        )
    return path


def is_tflite_file(path):
    """Whether the file at `path` starts like a LiteRT FlatBuffer (`TFL3`)."""
    with open(path, "rb") as file:
        return file.read(8)[4:8] == b"TFL3"


def check_tflite_file(path, argument_name="path"):
    """Returns `path` as a `str` if it is an existing LiteRT (`.tflite`) file.

    The content is checked, not the extension: a `.keras` model or a
    truncated download is refused before the interpreter reads it.

    Raises:
        TypeError: If `path` is not a path.
        FileNotFoundError: If there is no file at `path`.
        ValueError: If the file is not a LiteRT model.
    """
    path = check_existing_file(path, argument_name, "an existing .tflite file")
    if not is_tflite_file(path):
        hint = ""
        if describe_file(path).startswith("a zip") or path.endswith(".keras"):
            hint = (
                " For a Keras model, load it with `keras.saving.load_model` "
                "(or convert it with `kdkeras.export.export_litert`)."
            )
        raise ValueError(
            f"`{argument_name}` must be a LiteRT (.tflite) model, whose bytes 4 "
            f"to 8 are 'TFL3'. Received: {argument_name}={path!r}, "
            f"{describe_file(path)}.{hint}"
        )
    return path
