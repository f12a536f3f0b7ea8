"""`ImageView`: how one model sees a batch of images."""

import keras
from keras import ops

from kdkeras.models.presets import get_preset

# ITU-R BT.601 luma weights, for turning RGB into one grayscale channel.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma: the grey value of an RGB pixel, as `ImageView(channels=1)`
computes it."""


@keras.saving.register_keras_serializable(package="kdkeras")
class ImageView(keras.layers.Layer):
    """Resizes, recolours and preprocesses raw images for one model.

    A teacher at 224×224 RGB with ImageNet preprocessing and a student at
    28×28 grayscale can learn from the same batch: the `Distiller` gives each
    its own view of the (augmented) images. Input pixels are in [0, 255].

    Example:

    ```python
    teacher_view = kdkeras.layers.ImageView(size=(96, 96), channels=3,
                                            preprocessing="mobilenet_v2")
    ```

    Args:
        size: `(height, width)` to resize to (bilinear), or `None`.
        channels: 1 or 3: grayscale is repeated into RGB, RGB becomes luma;
            `None` keeps the channels.
        preprocessing: `None` (pixels unchanged), `"unit"` (divide by 255), or
            a backbone preset name whose `preprocess_input` is applied.
    """

    def __init__(self, size=None, channels=None, preprocessing=None, **kwargs):
        super().__init__(**kwargs)
        if size is not None and (len(tuple(size)) != 2 or min(tuple(size)) < 1):
            raise ValueError(
                f"`size` must be (height, width) or None. Received: size={size!r}"
            )
        if channels not in (None, 1, 3):
            raise ValueError(
                f"`channels` must be 1, 3 or None. Received: channels={channels!r}"
            )
        if preprocessing not in (None, "unit"):
            get_preset(preprocessing)
        self.size = None if size is None else tuple(int(s) for s in size)
        self.channels = channels
        self.preprocessing = preprocessing

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.size is not None:
            images = ops.image.resize(images, self.size, interpolation="bilinear")
        input_channels = images.shape[-1]
        if self.channels == 3 and input_channels == 1:
            images = ops.repeat(images, 3, axis=-1)
        elif self.channels == 1 and input_channels == 3:
            weights = ops.convert_to_tensor(LUMA_WEIGHTS, dtype=images.dtype)
            images = ops.sum(images * weights, axis=-1, keepdims=True)
        if self.preprocessing == "unit":
            return images / 255.0
        if self.preprocessing is not None:
            return get_preset(self.preprocessing).preprocess_input(images)
        return images

    def compute_output_shape(self, input_shape):
        height, width = self.size or input_shape[1:3]
        channels = self.channels or input_shape[-1]
        return (input_shape[0], height, width, channels)

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "channels": self.channels,
            "preprocessing": self.preprocessing,
        }
