"""TensorFlow's C++ start-up lines (oneDNN, `cudart_stub.cc`,
`absl::InitializeLog`) kept out of the command line's output unless
`TF_CPP_MIN_LOG_LEVEL` is set (or `--debug`), so the first line a user sees
is kdkeras'."""

import contextlib
import os
import re
import sys
import tempfile

import click

from kdkeras.cli.failures import debugging

TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


_TF_LOG_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
_PYTHON_WARNING = re.compile(r"\S+:\d+: \w*(Warning|Error)\b")


def without_startup_noise(text, level):
    """`text` without TensorFlow's C++ log lines below `level` (0: info, 1:
    warning, 2: error, 3: fatal, as `TF_CPP_MIN_LOG_LEVEL`), and the lines
    that continue them (cpu_feature_guard's instruction list)."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        match = _TF_LOG_LINE.match(line)
        if match:
            dropping = "IWEF".index(match.group(1)) < level
        elif line.startswith(_ABSL_PREAMBLE):
            dropping = level >= 1
        elif _PYTHON_WARNING.match(line):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)


def _tf_log_level():
    try:
        return int(os.environ.get(TF_LOG_LEVEL, "0"))
    except ValueError:
        return 0


@contextlib.contextmanager
def quiet_tensorflow_startup():
    """Applies `TF_CPP_MIN_LOG_LEVEL` (3 unless the user set it: nothing) to
    what TensorFlow's C++ libraries print while they load.

    TensorFlow 2.21 logs oneDNN and CUDA lines before absl's logging is set
    up, whatever `TF_CPP_MIN_LOG_LEVEL` says: the process' stderr (file
    descriptor 2) goes to a file while they load, and the lines at or above
    the level (and any other output) are printed after. Nothing is dropped
    with `--debug`.
    """
    level = _tf_log_level()
    if level <= 0 or debugging(click.get_current_context(silent=True)):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # No file descriptor 2 (a GUI process).
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = without_startup_noise(text, level)
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def import_kdkeras():
    """Imports all of kdkeras (and so TensorFlow, quietly) before a command
    loads `.keras` files.

    `import kdkeras` is lazy (so `--help` does not import TensorFlow); a saved
    model that holds kdkeras classes (an `ImageView`, a `Distiller`) loads
    only once they are registered.
    """
    import kdkeras

    with quiet_tensorflow_startup():
        kdkeras.import_all()
