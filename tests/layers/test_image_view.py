import keras
import numpy as np
import pytest

from kdkeras.layers import ImageView


def test_resize_and_grayscale_to_rgb():
    images = np.arange(2 * 4 * 4, dtype="float32").reshape(2, 4, 4, 1)
    view = ImageView(size=(8, 6), channels=3)
    output = np.asarray(view(images))
    assert output.shape == (2, 8, 6, 3)
    np.testing.assert_array_equal(output[..., 0], output[..., 2])
    assert view.compute_output_shape((None, 4, 4, 1)) == (None, 8, 6, 3)


def test_rgb_to_luma_and_unit_scaling():
    pixel = np.array([[[[255.0, 0.0, 0.0]]]], dtype="float32")
    output = ImageView(channels=1, preprocessing="unit")(pixel)
    np.testing.assert_allclose(output, [[[[0.299]]]], rtol=1e-6)


def test_preset_preprocessing():
    images = np.full((1, 2, 2, 3), 255.0, dtype="float32")
    # MobileNetV2 maps [0, 255] to [-1, 1].
    np.testing.assert_allclose(ImageView(preprocessing="mobilenet_v2")(images), 1.0)


def test_config_round_trip():
    view = ImageView(size=(9, 9), channels=3, preprocessing="resnet50", name="v")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(view)
    )
    assert restored.get_config() == view.get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match="channels=2"):
        ImageView(channels=2)
    with pytest.raises(ValueError, match=r"size=\(3,\)"):
        ImageView(size=(3,))
    with pytest.raises(ValueError, match="name='imagenet'"):
        ImageView(preprocessing="imagenet")
