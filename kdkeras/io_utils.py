"""Writing files so that a failure never leaves a half-written file behind."""

import contextlib
import glob
import os
import shutil
import tempfile

_PARTIAL_PREFIX = ".partial-"


def remove_stale_partials(directory):
    """Removes the temporary files of writes whose process has died.

    A write killed mid-way (`kill -9`, a power cut) cannot remove its own
    `.partial-<pid>-…` file (or directory, see `atomic_directory`); the next
    write into the same directory does, when process `<pid>` no longer runs.
    Files of live writers are kept.

    Returns:
        The removed paths.
    """
    removed = []
    for path in glob.glob(os.path.join(glob.escape(directory), _PARTIAL_PREFIX + "*")):
        pid = os.path.basename(path)[len(_PARTIAL_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or _is_running(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(path)
    return removed


def _is_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # Someone else's process.
    return True


@contextlib.contextmanager
def atomic_path(path, overwrite=False):
    """Yields a temporary path beside `path`, renamed to `path` on success.

    The rename is atomic on POSIX, so readers see the old file or the complete
    new one. On an exception the temporary file is removed and `path` is left
    as it was. Temporary files of killed writers in the same directory are
    removed first (see `remove_stale_partials`).

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
    remove_stale_partials(directory)
    # The temporary name ends with the final name, so writers that check the
    # extension (`save_weights` wants ".weights.h5") accept it; it starts with
    # the writer's process id, so a later write can tell a dead writer's file.
    handle, temporary_path = tempfile.mkstemp(
        prefix=f"{_PARTIAL_PREFIX}{os.getpid()}-",
        suffix=f"-{os.path.basename(path)}",
        dir=directory,
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


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """Yields a temporary directory beside `path`, renamed to `path` on success.

    Readers never see a half-written directory: the files are written into
    `.partial-<pid>-…-<name>`, which becomes `path` by one rename once the
    `with` block ends without an exception. With `overwrite=True` an existing
    `path` is first renamed away and deleted after the new one is in place, so
    `path` is missing for the moment between two renames, never incomplete.
    A killed write leaves only the temporary directory, which the next
    `atomic_path`/`atomic_directory` in the same parent removes.

    Args:
        path: The final directory path.
        overwrite: Whether an existing `path` may be replaced.

    Raises:
        FileExistsError: If `path` exists and `overwrite` is `False`.
    """
    path = os.fspath(path).rstrip(os.sep) or os.sep
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{path!r} already exists. Pass `overwrite=True` to replace it."
        )
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    remove_stale_partials(parent)
    prefix = f"{_PARTIAL_PREFIX}{os.getpid()}-"
    name = os.path.basename(path)
    temporary_path = tempfile.mkdtemp(prefix=prefix, suffix=f"-{name}", dir=parent)
    # mkdtemp creates the directory 0700; give it the mode os.makedirs would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary_path, 0o777 & ~umask)
    try:
        yield temporary_path
        if os.path.exists(path):
            old = tempfile.mkdtemp(prefix=prefix, suffix=f"-old-{name}", dir=parent)
            os.replace(path, os.path.join(old, name))
            os.replace(temporary_path, path)
            shutil.rmtree(old)
        else:
            os.replace(temporary_path, path)
    finally:
        if os.path.exists(temporary_path):
            shutil.rmtree(temporary_path)
