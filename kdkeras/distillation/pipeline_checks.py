"""The checks a `Distiller` adds to an input pipeline, and their errors.

A check inside a `tf.data` pipeline (labels in range, example indices in
range) fails with a TensorFlow error when the bad batch is read; its message
starts with `CHECK_TAG`, so that `checks_as_value_errors` around `fit` and
`evaluate` turns it into a plain `ValueError` with the check's own words.
"""

import contextlib

CHECK_TAG = "kdkeras check failed: "
"""The start of every pipeline check's message."""


@contextlib.contextmanager
def checks_as_value_errors():
    """Re-raises a failed kdkeras pipeline check as a `ValueError`."""
    try:
        yield
    except Exception as error:
        if CHECK_TAG not in str(error):
            raise
        message = str(error).split(CHECK_TAG, 1)[1].split("\n\t [[")[0]
        message = message.split("\n")[0]
        raise ValueError(message.replace(":] [", ": [").strip()) from None
