import numpy as np
import pytest

from kdkeras.distillation.diagnostics import soft_target_statistics


def test_statistics_by_hand():
    # One sample, logits [log 6, log 3, log 1]: softmax at T = 1 is
    # [0.6, 0.3, 0.1]; the other classes [0.75, 0.25]; at T -> large, uniform.
    logits = np.log([[6.0, 3.0, 1.0]])
    (row,) = soft_target_statistics(logits, temperatures=(1,))
    assert row["temperature"] == 1.0
    assert row["top_probability"] == pytest.approx(0.6)
    others_entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert row["non_target_uniformity"] == pytest.approx(others_entropy / np.log(2))
    entropy = -(0.6 * np.log(0.6) + 0.3 * np.log(0.3) + 0.1 * np.log(0.1))
    assert row["effective_classes"] == pytest.approx(np.exp(entropy))
    hot = soft_target_statistics(logits, temperatures=(1000,))[0]
    assert hot["top_probability"] == pytest.approx(1 / 3, abs=1e-3)
    assert hot["non_target_uniformity"] == pytest.approx(1.0, abs=1e-6)


def test_compressed_teacher_is_near_uniform_at_high_temperature():
    # Label-smoothing-like logits: the target 3 above identical others.
    logits = np.tile([3.0] + [0.0] * 9, (5, 1))
    rows = soft_target_statistics(logits, temperatures=(1, 4))
    assert rows[0]["top_probability"] > rows[1]["top_probability"]
    assert rows[1]["non_target_uniformity"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "logits, message",
    [
        (np.zeros((4, 2)), "at least one sample and 3 classes"),
        (np.zeros((0, 5)), "at least one sample"),
        (np.array([[0.0, np.nan, 1.0]]), "teacher_logits"),
    ],
)
def test_bad_logits_are_refused(logits, message):
    with pytest.raises(ValueError, match=message):
        soft_target_statistics(logits)


def test_bad_temperature_is_refused():
    with pytest.raises(ValueError, match="temperature"):
        soft_target_statistics(np.zeros((2, 3)), temperatures=(0,))
