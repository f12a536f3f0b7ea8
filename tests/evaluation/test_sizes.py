"""Tests of kdkeras.evaluation.sizes: `count_parameters`, `model_size_bytes`."""

import keras
import numpy as np
import pytest

from kdkeras import evaluation
from kdkeras.models import build_mlp


def test_count_parameters_counts_all_weights():
    assert (
        evaluation.count_parameters(
            keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, use_bias=False)])
        )
        == 9
    )
    model = build_mlp(num_classes=3, input_shape=(4,), hidden_units=(5,))
    assert evaluation.count_parameters(model) == (4 * 5 + 5) + (5 * 3 + 3)


def test_model_size_bytes_grows_with_the_weights():
    small = build_mlp(input_shape=(8,), hidden_units=(4,))
    large = build_mlp(input_shape=(8,), hidden_units=(4096,))
    small_size = evaluation.model_size_bytes(small)
    large_size = evaluation.model_size_bytes(large)
    assert isinstance(small_size, int) and small_size > 0
    # 4096 * (8 + 1 + 10) float32 weights more, which compress little (the
    # biases are zeros).
    assert large_size - small_size > 4096 * 18 * 4 * 0.9


def test_model_size_bytes_leaves_out_the_optimizer_state_by_default():
    model = build_mlp(input_shape=(8,), hidden_units=(1024,))
    uncompiled_size = evaluation.model_size_bytes(model)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 8)), np.zeros((4, 10)), epochs=1, verbose=0)
    assert evaluation.model_size_bytes(model) == pytest.approx(
        uncompiled_size, rel=0.01
    )
    # Adam keeps two values per weight.
    with_optimizer = evaluation.model_size_bytes(model, include_optimizer=True)
    assert with_optimizer > 2.5 * uncompiled_size


def test_model_size_bytes_leaves_out_a_nested_models_optimizer_state():
    # A fine-tuned teacher wrapped with its input view, as in the demo.
    teacher = build_mlp(input_shape=(8,), hidden_units=(1024,), name="teacher")
    teacher_size = evaluation.model_size_bytes(teacher)
    teacher.compile(optimizer="adam", loss="mse")
    teacher.fit(np.zeros((4, 8)), np.zeros((4, 10)), epochs=1, verbose=0)
    wrapper = keras.Sequential([keras.Input((8,)), teacher])
    assert evaluation.model_size_bytes(wrapper) == pytest.approx(teacher_size, rel=0.05)
    assert teacher.optimizer is not None  # The model itself is left as it was.
