"""Progress of kdkeras' long steps, shown the way Keras' `fit` shows it.

Every function with a long step (LiteRT export, int8 calibration, scoring,
latency timing) takes a Keras-style `verbose`:

* `0`: silent;
* `1`: a `keras.utils.Progbar` inside each loop (over batches, examples or
  timed runs), as `fit(verbose=1)` shows one inside each epoch;
* `2`: one line per step once it is done, as `fit(verbose=2)` prints one
  per epoch, e.g. `int8: converted in 2.6 s, 14.5 KB; ...`.

Lines are printed to stdout and flushed at once, so a run log that captures
stdout shows each step as it ends.
"""

import keras


def check_verbose(verbose, auto=1):
    """`verbose` as 0, 1 or 2, `"auto"` meaning `auto`.

    Args:
        verbose: `0`, `1`, `2` or `"auto"`.
        auto: What `"auto"` means for the caller (Keras' `fit`: 1).

    Raises:
        ValueError: For any other value (`True` and `False` included).
    """
    if isinstance(verbose, str) and verbose == "auto":
        return auto
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(
            f"`verbose` must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}"
        )
    return int(verbose)


def progress_bar(target, verbose, unit_name="step"):
    """A `keras.utils.Progbar` of `target` steps when `verbose` is 1, else `None`.

    Args:
        target: The number of steps, or `None` when unknown.
        verbose: 0, 1 or 2 (see `check_verbose`).
        unit_name: What one step is, e.g. `"run"` or `"image"`.
    """
    if verbose != 1:
        return None
    return keras.utils.Progbar(target, unit_name=unit_name)


def print_step(label, message):
    """Prints the line of a finished (or starting) step: `label: message`."""
    print(f"{label}: {message}", flush=True)
