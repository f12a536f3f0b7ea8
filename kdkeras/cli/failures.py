"""The command line's one rule for failures: an expected one ends in a line
or two, `Error: <file or key path>: expected …; received …`, with exit code 2
for a bad config, bad data or a damaged run folder and 1 for a failure while
running; the Python traceback only with `kdkeras --debug` or
`KDKERAS_DEBUG=1` (`KdkerasGroup`, `as_click_exception`)."""

import os
import sys
import traceback

import click

DEBUG_VARIABLE = "KDKERAS_DEBUG"
"""`KDKERAS_DEBUG=1` is `kdkeras --debug`."""


_MAX_LINES, _MAX_LINE = 20, 500
"""An error message is cut to this many lines of this many characters."""


class ConfigProblem(click.ClickException):
    """A bad config, bad data or a damaged run folder, shown without a
    traceback; exit code 2, as click's usage errors."""

    exit_code = 2


class RunFailure(click.ClickException):
    """A failure while running (a weak teacher, a NaN loss, a conversion
    that failed, data or weights not on this machine); exit code 1."""

    exit_code = 1


_BAD_INPUT = (
    ("kdkeras.config.errors", "ConfigError"),
    ("kdkeras.pipeline.run_state", "RunFolderError"),
    ("kdkeras.caches.fingerprints", "StaleCacheError"),
)
_RUN_FAILURES = (
    ("kdkeras.pipeline.gates", "WeakTeacherError"),
    ("kdkeras.distillation.callbacks", "NonFiniteLossError"),
    ("kdkeras.export.converter_errors", "ExportError"),
    ("kdkeras.export.budget", "NoStudentFitsError"),
    ("kdkeras.models.applications", "PretrainedWeightsUnavailableError"),
    ("kdkeras.optimize.bridge", "BridgeMismatchError"),
    ("kdkeras.optimize.bridge", "UnsupportedLayerError"),
    ("kdkeras.optimize.qat", "UnsupportedQuantizationError"),
)
"""The (module, class) of the errors of each kind; only modules already
imported are looked at (an error's class is in one), so no failure imports
TensorFlow."""


def _loaded_classes(names):
    return tuple(
        getattr(sys.modules[module], name)
        for module, name in names
        if module in sys.modules and hasattr(sys.modules[module], name)
    )


def short_message(text):
    """`text` cut to `_MAX_LINES` lines of `_MAX_LINE` characters: an error
    never echoes a whole vocabulary line or data file."""
    lines = [
        line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 1] + "…"
        for line in str(text).strip().splitlines() or [""]
    ]
    if len(lines) > _MAX_LINES:
        more = len(lines) - _MAX_LINES + 1
        lines = lines[: _MAX_LINES - 1] + [f"… and {more} more lines"]
    return "\n".join(lines)


def as_click_exception(error):
    """The `click.ClickException` `error` ends the command with.

    Exit code 2 for a bad config, data or run folder (`ConfigError`,
    `RunFolderError`), 1 for a failure while running (the `_RUN_FAILURES`,
    data not on this machine, an `OSError` such as a full disk) and for an
    unexpected error (its type and first line, and how to see the
    traceback).
    """
    if isinstance(error, click.ClickException):
        return error
    if isinstance(error, _loaded_classes(_BAD_INPUT)):
        return ConfigProblem(short_message(error))
    if isinstance(error, _loaded_classes(_RUN_FAILURES) + (OSError, MemoryError)):
        # FileNotFoundError included: data or weights not on this machine,
        # the message says where they were looked for and what to do.
        message = str(error) or type(error).__name__
        if isinstance(error, OSError) and error.filename and not str(error):
            message = f"{error.filename}: {error.strerror}"
        return RunFailure(short_message(message))
    first_line = (str(error).strip().splitlines() or [""])[0]
    if len(first_line) > 300:
        first_line = first_line[:299] + "…"
    return RunFailure(
        short_message(
            f"{type(error).__name__}: {first_line} (an unexpected error: "
            f"run again with kdkeras --debug, or {DEBUG_VARIABLE}=1, for the "
            "traceback)"
        )
    )


def debugging(context=None):
    if context is not None and context.find_root().params.get("debug"):
        return True
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() in ("1", "true", "yes")


class KdkerasGroup(click.Group):
    """The `kdkeras` group: turns every exception of a command into a short
    `Error: …` (`as_click_exception`), after its traceback with `--debug`."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if debugging(ctx):
                traceback.print_exc(file=sys.stderr)
            raise as_click_exception(error) from None
