import keras
import numpy as np
import pytest

from kdkeras.distillation import outputs as model_outputs


@pytest.mark.parametrize(
    "last_layers, expected",
    [
        ([keras.layers.Dense(3)], False),
        ([keras.layers.Dense(3, activation="softmax")], True),
        ([keras.layers.Dense(3), keras.layers.Softmax()], True),
        ([keras.layers.Dense(3), keras.layers.Activation("softmax")], True),
        ([keras.layers.Dense(3, activation="sigmoid")], False),
    ],
)
def test_ends_in_softmax(last_layers, expected):
    sequential = keras.Sequential([keras.Input((4,)), *last_layers])
    assert model_outputs.ends_in_softmax(sequential) is expected
    inputs = keras.Input((4,))
    outputs = inputs
    for layer in last_layers:
        outputs = type(layer).from_config(layer.get_config())(outputs)
    assert model_outputs.ends_in_softmax(keras.Model(inputs, outputs)) is expected


def test_nested_model_is_inspected(dense_model):
    inner = dense_model(3, activation="softmax")
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, inner(inputs))
    assert model_outputs.ends_in_softmax(outer) is True


def test_resolve_output_kind(dense_model):
    assert model_outputs.resolve_output_kind(None, "auto", "x") == "logits"
    softmax_model = dense_model(3, activation="softmax")
    assert model_outputs.resolve_output_kind(softmax_model, "auto", "x") == (
        "probabilities"
    )
    with pytest.warns(UserWarning, match="x='logits' was declared"):
        kind = model_outputs.resolve_output_kind(softmax_model, "logits", "x")
    assert kind == "logits"
    with pytest.raises(ValueError, match="teacher_outputs='raw'"):
        model_outputs.resolve_output_kind(None, "raw", "teacher_outputs")


def test_probabilities_to_logits_inverts_softmax_at_any_temperature():
    logits = np.array([[2.0, -1.0, 0.5]], dtype="float32")
    recovered = model_outputs.probabilities_to_logits(keras.ops.softmax(logits))
    for temperature in (1.0, 4.0):
        np.testing.assert_allclose(
            keras.ops.softmax(recovered / temperature),
            keras.ops.softmax(logits / temperature),
            rtol=1e-5,
        )
    zeros = model_outputs.probabilities_to_logits(np.array([[1.0, 0.0]]))
    assert np.isfinite(np.asarray(zeros)).all()
