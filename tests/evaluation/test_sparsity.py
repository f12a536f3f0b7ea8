"""Tests of kernel sparsity and gzipped size (pure Keras 3, no tfmot)."""

import keras
import numpy as np

from kdkeras import optimize, sparsity


def test_sparsity_report_counts_kernel_zeros():
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(2, name="a"), keras.layers.ReLU()]
    )
    model.get_layer("a").set_weights(
        [np.array([[0, 1], [0, 0], [2, 0], [0, 3]], "float32"), np.zeros(2)]
    )
    report = sparsity.sparsity_report(model)
    assert report == {"layers": {"a": 0.625}, "overall": 0.625}


def test_nested_models_and_depthwise_kernels_are_counted():
    inner = keras.Sequential(
        [
            keras.Input((4, 4, 2)),
            keras.layers.DepthwiseConv2D(1, use_bias=False, name="depthwise"),
        ],
        name="inner",
    )
    outer = keras.Sequential(
        [keras.Input((4, 4, 2)), inner, keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    inner.get_layer("depthwise").set_weights([np.array([[[[0.0], [1.0]]]])])
    outer.layers[-1].set_weights([np.zeros((32, 3)), np.zeros(3)])
    report = sparsity.sparsity_report(outer)
    assert report["layers"]["depthwise"] == 0.5
    assert report["layers"][outer.layers[-1].name] == 1.0
    # 1 zero of 2 depthwise entries, 96 of 96 dense ones.
    assert report["overall"] == 97 / 98


def test_model_without_kernels_has_zero_sparsity():
    model = keras.Sequential([keras.Input((3,)), keras.layers.ReLU()])
    assert sparsity.sparsity_report(model) == {"layers": {}, "overall": 0.0}


def test_gzipped_size_shrinks_with_zeros(tmp_path):
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64)])
    dense_size = sparsity.gzipped_size_bytes(model)
    kernel, bias = model.get_weights()
    kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.8)] = 0
    model.set_weights([kernel, bias])
    assert sparsity.gzipped_size_bytes(model) < 0.5 * dense_size
    path = tmp_path / "blob"
    path.write_bytes(bytes(1000))
    assert sparsity.gzipped_size_bytes(path) < 100
    assert sparsity.gzipped_size_bytes(str(path)) == sparsity.gzipped_size_bytes(path)


def test_optimize_exports_the_same_functions():
    assert optimize.sparsity_report is sparsity.sparsity_report
    assert optimize.gzipped_size_bytes is sparsity.gzipped_size_bytes
