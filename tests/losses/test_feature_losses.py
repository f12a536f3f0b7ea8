"""Feature losses: hand-computed values on tiny feature maps."""

import math

import numpy as np

from kdkeras.losses import feature_losses


def test_hint_loss_is_the_mean_squared_difference_per_example():
    teacher = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], "float32")
    student = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], "float32")
    # Example 0: (0 + 4 + 9) / 3; example 1: (1 + 1 + 1) / 3.
    np.testing.assert_allclose(
        feature_losses.hint_loss(teacher, student), [13 / 3, 1.0], rtol=1e-6
    )


def test_attention_map_by_hand():
    # One example, 1×2 positions, 2 channels: mean_c a² = [(1 + 9)/2, (4 + 0)/2].
    maps = np.array([[[[1.0, 3.0], [2.0, 0.0]]]], "float32")
    attention = np.asarray(feature_losses.attention_map(maps))
    expected = np.array([5.0, 2.0]) / math.sqrt(29.0)
    np.testing.assert_allclose(attention, [expected], rtol=1e-6)


def test_attention_transfer_loss_by_hand_and_channel_counts_may_differ():
    teacher = np.array([[[[1.0, 3.0], [2.0, 0.0]]]], "float32")  # Q_t ∝ [5, 2]
    student = np.array([[[[2.0], [2.0]]]], "float32")  # one channel: Q_s ∝ [4, 4]
    q_t = np.array([5.0, 2.0]) / math.sqrt(29.0)
    q_s = np.array([1.0, 1.0]) / math.sqrt(2.0)
    expected = np.mean((q_s - q_t) ** 2)
    np.testing.assert_allclose(
        feature_losses.attention_transfer_loss(teacher, student), [expected], rtol=1e-6
    )
    np.testing.assert_allclose(
        feature_losses.attention_transfer_loss(teacher, teacher), [0.0], atol=1e-7
    )
