"""A converted file is run and compared with Keras before it takes its name."""

import keras
import numpy as np
import pytest

from kdkeras.export import ExportError, Quantization, export_litert, verify
from kdkeras.litert import compare_with_keras


@keras.saving.register_keras_serializable(package="kdkeras_tests")
class OneExampleAtATime(keras.layers.Layer):
    """Runs at batch size 1 only: a hard-coded reshape."""

    def call(self, inputs):
        return keras.ops.reshape(inputs, (1, 4))


def _model(layer=None):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    x = inputs if layer is None else layer(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def test_a_file_that_fails_at_batch_size_8_is_not_written(tmp_path):
    model = _model(OneExampleAtATime())
    model.predict(np.zeros((1, 4)), verbose=0)  # Keras runs it at batch size 1
    path = tmp_path / "model.tflite"
    with pytest.raises(ExportError, match="float32 LiteRT file"):
        export_litert(model, path)
    assert not path.exists() and not list(tmp_path.iterdir())


def test_a_file_that_differs_from_keras_is_refused(tmp_path, monkeypatch):
    model = _model()
    path = export_litert(model, tmp_path / "model.tflite")
    examples = verify.check_examples(model, None)
    check = verify.verify_tflite(model, path, "float32", examples, from_data=False)
    assert check["num_examples"] == 8 and check["top1_agreement"] == 1.0
    assert 0 <= check["max_abs_diff"] < verify.FLOAT32_TOLERANCE
    other = _model(keras.layers.Rescaling(2.0))  # same weights, doubled input
    with pytest.raises(ExportError, match="differs from Keras by up to"):
        verify.verify_tflite(other, path, "float32", examples, from_data=False)


def test_check_examples_come_from_the_data_or_the_input_shape():
    model = _model()
    data = np.arange(40, dtype="float32").reshape(10, 4)
    np.testing.assert_array_equal(verify.check_examples(model, data), data[:8])
    synthetic = verify.check_examples(model, None)
    assert synthetic.shape == (8, 4) and ((0 <= synthetic) & (synthetic < 1)).all()
    inputs = keras.Input((None, 3))
    ragged = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert verify.check_examples(ragged, None) is None


def test_verify_reports_what_compare_with_keras_measures(tmp_path):
    inputs = keras.Input((4,))
    identity = keras.layers.Dense(4, use_bias=False)
    model = keras.Model(inputs, identity(inputs))
    identity.set_weights([np.eye(4, dtype="float32")])
    path = export_litert(model, tmp_path / "identity.tflite")
    examples = verify.check_examples(model, None)
    check = verify.verify_tflite(
        model, path, Quantization("float32"), examples, from_data=False
    )
    # An identity matrix is exact in float32: no difference at all.
    assert check == {"num_examples": 8, "max_abs_diff": 0.0, "top1_agreement": 1.0}
    measured = compare_with_keras(model, path, examples, batch_size=1, verbose=0)
    assert check["max_abs_diff"] == measured["max_abs_diff"]
    assert check["top1_agreement"] == measured["top1_agreement"]
    five = keras.Model(inputs, keras.layers.Dense(5)(inputs))
    with pytest.raises(ExportError, match="float32 LiteRT file does not follow Keras"):
        verify.verify_tflite(five, path, "float32", examples, from_data=False)
