"""The feature methods (`Hint`, `AttentionTransfer`): registered with kind
`"features"`, their configs, and their losses by hand."""

import json

import keras
import numpy as np
import pytest

from kdkeras import losses

RNG = np.random.default_rng(0)
TEACHER_MAPS = RNG.normal(size=(2, 3, 3, 4)).astype("float32")
STUDENT_MAPS = RNG.normal(size=(2, 3, 3, 2)).astype("float32")


def test_attention_transfer_by_hand():
    method = losses.get("attention_transfer", teacher_layer="t", student_layer="s")
    method.build((TEACHER_MAPS.shape, STUDENT_MAPS.shape))

    def attention(maps):
        q = (maps**2).mean(axis=-1).reshape(len(maps), -1)
        return q / np.linalg.norm(q, axis=-1, keepdims=True)

    expected = ((attention(STUDENT_MAPS) - attention(TEACHER_MAPS)) ** 2).mean(axis=-1)
    np.testing.assert_allclose(
        method.loss(TEACHER_MAPS, STUDENT_MAPS), expected, rtol=1e-5
    )


def test_hint_projects_then_takes_the_mean_squared_error():
    method = losses.get("hint", teacher_layer="t", student_layer="s")
    method.build((TEACHER_MAPS.shape, STUDENT_MAPS.shape))
    kernel = keras.ops.convert_to_numpy(method.projection.kernel)[0, 0]  # (2, 4)
    expected = ((STUDENT_MAPS @ kernel - TEACHER_MAPS) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(
        method.loss(TEACHER_MAPS, STUDENT_MAPS), expected, rtol=1e-5
    )


@pytest.mark.parametrize(
    "method",
    [
        losses.Hint("t", "s", weight=0.5, name="hint"),
        losses.AttentionTransfer("t", "s", weight=100.0, p=4, name="attention"),
    ],
)
def test_config_holds_the_constructor_arguments(method):
    config = method.get_config()
    expected = {"teacher_layer": "t", "student_layer": "s", "weight": method.weight}
    assert {key: config[key] for key in expected} == expected
    rebuilt = type(method).from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    assert losses.method_kind(method) == "features"
