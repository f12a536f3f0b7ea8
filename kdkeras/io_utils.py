"""Writing files so that a failure never leaves a half-written file behind."""

import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path, overwrite=False):
    """Yields a temporary path beside `path`, renamed to `path` on success.

    The rename is atomic on POSIX, so readers see the old file or the complete
    new one. On an exception the temporary file is removed and `path` is left
    as it was.

    Args:
        path: The final file path.
        overwrite: Whether an existing `path` may be replaced.

    Raises:
        FileExistsError: If `path` exists and `overwrite` is `False`.
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path!r} already exists. Pass `overwrite=True` to replace it."
        )
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # The temporary name ends with the final name, so writers that check the
    # extension (`save_weights` wants ".weights.h5") accept it.
    handle, temporary_path = tempfile.mkstemp(
        prefix=".partial-", suffix=f"-{os.path.basename(path)}", dir=directory
    )
    os.close(handle)
    # mkstemp creates the file 0600; give it the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary_path, 0o666 & ~umask)
    try:
        yield temporary_path
        os.replace(temporary_path, path)
    finally:
        if os.path.exists(temporary_path):
            os.remove(temporary_path)
