"""The private APIs kdkeras cannot avoid, in one place.

Each name here reaches into a library's internals; `tests/test_compat.py` checks
every one against the installed versions, so a release that changes one fails
there, loudly, instead of somewhere deep in training or export.
"""

from keras.src.losses.loss import (
    scale_loss_for_distribution as _scale_loss_for_distribution,
)
from keras.src.losses.loss import (
    unscale_loss_for_distribution as _unscale_loss_for_distribution,
)


def scale_loss_for_distribution(loss):
    """`loss / replicas` under a `tf.distribute` strategy, else `loss`.

    Each replica adds its share, so the summed gradient counts a term once.
    Keras' own losses scale this way; terms kdkeras adds must too.
    """
    return _scale_loss_for_distribution(loss)


def unscale_loss_for_distribution(loss):
    """`loss · replicas` under a `tf.distribute` strategy, else `loss`.

    A replica's loss is its share of the whole; a tracker logs the whole.
    """
    return _unscale_loss_for_distribution(loss)
