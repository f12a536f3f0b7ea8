"""Top-k storage of teacher logits: the k largest, their classes and the rest's mass.

A teacher distribution over `C` classes is kept as its `k` largest logits,
their class ids and `r = logsumexp(other logits)`. It is rebuilt with the
`k` logits in place and every other class at `r - log(C - k)`: the top-k
probabilities are exact, the remaining mass `exp(r) / Z` is exact in total and
spread evenly (the "top-k + uniform rest" reconstruction, as in the scale
literature on cached teacher outputs, e.g. Shen & Xing 2022, FKD).

Bytes per stored row: `4k` (logits) + `2k` (int16 class ids) + 4, against
`4C` for full logits.
"""

import numpy as np


def top_k_logits(logits, k):
    """Splits logits `(..., C)` into `(values, classes, rest_logsumexp)`.

    Args:
        logits: Array of logits, the classes on the last axis.
        k: Number of logits kept per row, `1 <= k <= C`.

    Returns:
        `values` (`float32`, `(..., k)`, descending), `classes` (`int16`,
        `(..., k)`) and `rest_logsumexp` (`float32`, `(...)`; `-inf` if
        `k == C`).
    """
    logits = np.asarray(logits, dtype="float32")
    num_classes = logits.shape[-1]
    check_top_k(k, num_classes)
    order = np.argsort(-logits, axis=-1, kind="stable")
    classes = order[..., :k]
    values = np.take_along_axis(logits, classes, axis=-1)
    rest = np.take_along_axis(logits, order[..., k:], axis=-1)
    if rest.shape[-1] == 0:
        rest_logsumexp = np.full(logits.shape[:-1], -np.inf, "float32")
    else:
        peak = rest.max(axis=-1, keepdims=True)
        rest_logsumexp = (
            peak[..., 0] + np.log(np.exp(rest - peak).sum(axis=-1))
        ).astype("float32")
    return values, classes.astype(np.int16), rest_logsumexp


def check_top_k(k, num_classes=None):
    """Raises `ValueError` unless `k` is an int in `[1, num_classes]`."""
    upper = "num_classes" if num_classes is None else num_classes
    if (
        isinstance(k, bool)
        or not isinstance(k, (int, np.integer))
        or k < 1
        or (num_classes is not None and k > num_classes)
    ):
        raise ValueError(
            f"`top_k` must be an int in [1, {upper}] (the number of classes). "
            f"Received: top_k={k!r}"
        )


def logits_from_top_k(values, classes, rest_logsumexp, num_classes):
    """Rebuilds `(..., num_classes)` logits from `top_k_logits`' output."""
    values = np.asarray(values, "float32")
    num_kept = values.shape[-1]
    rest_fill = np.asarray(rest_logsumexp, "float32")
    if num_kept < num_classes:
        rest_fill = rest_fill - np.float32(np.log(num_classes - num_kept))
    logits = np.broadcast_to(
        rest_fill[..., None], values.shape[:-1] + (num_classes,)
    ).copy()
    if num_kept == num_classes:
        logits[...] = 0.0
    np.put_along_axis(logits, np.asarray(classes, np.int64), values, axis=-1)
    return logits


def bytes_per_row(num_classes, top_k=None):
    """Stored bytes per row of logits: full `float32`, or top-k."""
    if top_k is None:
        return 4 * num_classes
    return 6 * top_k + 4
