import numpy as np
import pytest

from kdkeras.caches import topk


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def test_top_k_by_hand():
    values, classes, rest = topk.top_k_logits([[1.0, 3.0, -1.0, 0.0]], 2)
    np.testing.assert_array_equal(values, [[3.0, 1.0]])
    np.testing.assert_array_equal(classes, [[1, 0]])
    np.testing.assert_allclose(rest, [np.log(np.exp(0.0) + np.exp(-1.0))], rtol=1e-6)
    rebuilt = topk.logits_from_top_k(values, classes, rest, 4)
    fill = np.log(np.exp(0.0) + np.exp(-1.0)) - np.log(2)  # 0.31326 - 0.69315
    np.testing.assert_allclose(rebuilt, [[1.0, 3.0, fill, fill]], rtol=1e-6)


def test_rebuilt_distribution_keeps_top_probabilities_and_rest_mass():
    logits = np.random.default_rng(0).normal(size=(5, 7, 10)).astype("float32") * 3
    rebuilt = topk.logits_from_top_k(*topk.top_k_logits(logits, 3), 10)
    exact, approx = softmax(logits), softmax(rebuilt)
    top = np.argsort(-logits, axis=-1)[..., :3]
    np.testing.assert_allclose(
        np.take_along_axis(approx, top, -1),
        np.take_along_axis(exact, top, -1),
        rtol=1e-5,
    )
    np.testing.assert_allclose(approx.sum(-1), 1.0, rtol=1e-6)


def test_all_classes_kept_is_exact():
    logits = np.array([[0.5, -2.0, 4.0]], "float32")
    np.testing.assert_array_equal(
        topk.logits_from_top_k(*topk.top_k_logits(logits, 3), 3), logits
    )


@pytest.mark.parametrize("k", [0, 5, 1.5, True, "2"])
def test_bad_k_is_refused(k):
    with pytest.raises(ValueError, match=r"`top_k` must be an int in \[1, 4\]"):
        topk.top_k_logits(np.zeros((2, 4)), k)


def test_bytes_per_row():
    assert topk.bytes_per_row(10) == 40
    assert topk.bytes_per_row(1000, top_k=5) == 34
