"""Small image classifiers to use as teachers and students.

Both builders return functional `keras.Model`s that output logits (the last
`Dense` has no activation), as `kdkeras.Distiller` expects of a student. With
`rescale=True` they take raw `uint8` pixels, so images go in unchanged.
"""

import numbers

import keras

from kdkeras.validation import check_positive_int, is_positive_int

_POOLING_LAYERS = {
    "avg": keras.layers.GlobalAveragePooling2D,
    "flatten": keras.layers.Flatten,
}


def build_cnn(
    num_classes=10,
    input_shape=(28, 28, 1),
    filters=(32, 64),
    dense_units=128,
    dropout=0.0,
    pooling="avg",
    rescale=True,
    name="cnn",
):
    """Builds a convolutional classifier that outputs logits.

    Each entry of `filters` adds a block `Conv2D(3x3) -> BatchNormalization ->
    ReLU -> MaxPooling2D(2)`. The blocks are followed by global average
    pooling (or flattening), an optional `Dense(dense_units, "relu")`, an
    optional `Dropout` and a `Dense(num_classes)` without activation.

    Example:

    ```python
    teacher = build_cnn(filters=(32, 64, 128), dense_units=128, dropout=0.3)
    student = build_cnn(filters=(16, 32), dense_units=32)
    ```

    Args:
        num_classes: Number of classes (outputs).
        input_shape: Shape of one image, `(height, width, channels)`.
        filters: Number of filters of each convolutional block, in order.
        dense_units: Units of the hidden dense layer, or `None` (or 0) to go
            straight from the pooled features to the logits.
        dropout: Dropout rate in `[0, 1)` before the output layer.
        pooling: How the last feature maps become a vector: `"avg"` (global
            average pooling, few weights) or `"flatten"` (keeps where features
            are, at the cost of more weights in the next layer).
        rescale: Whether the first layer maps pixels from `[0, 255]` to
            `[0, 1]` (`keras.layers.Rescaling(1 / 255)`).
        name: The model's name.

    Returns:
        A functional `keras.Model` mapping images to logits of shape
        `(batch_size, num_classes)`.
    """
    check_positive_int(num_classes, "num_classes")
    input_shape = _check_input_shape(input_shape, rank=3)
    filters = _check_positive_ints(filters, "filters")
    _check_room_to_pool(input_shape, filters)
    dense_units = _check_optional_units(dense_units, "dense_units")
    _check_rate(dropout, "dropout")
    if not isinstance(pooling, str) or pooling not in _POOLING_LAYERS:
        raise ValueError(
            f"`pooling` must be one of {tuple(_POOLING_LAYERS)}. "
            f"Received: pooling={pooling!r}"
        )

    inputs = keras.Input(shape=input_shape, name="images")
    x = _rescaling(inputs, rescale)
    for index, block_filters in enumerate(filters, start=1):
        x = _conv_block(x, block_filters, f"block{index}")
    x = _POOLING_LAYERS[pooling](name="pool")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def build_mlp(
    num_classes=10,
    input_shape=(28, 28, 1),
    hidden_units=(128,),
    dropout=0.0,
    rescale=True,
    name="mlp",
):
    """Builds a multilayer perceptron that outputs logits.

    The input is flattened, then each entry of `hidden_units` adds a
    `Dense(units, "relu")`, followed by a `Dropout` when `dropout > 0`. A last
    `Dense(num_classes)` without activation gives the logits. With
    `hidden_units=()` the model is a multinomial logistic regression.

    Args:
        num_classes: Number of classes (outputs).
        input_shape: Shape of one example, e.g. `(28, 28, 1)` or `(784,)`.
        hidden_units: Units of each hidden layer, in order.
        dropout: Dropout rate in `[0, 1)` after each hidden layer.
        rescale: Whether the first layer maps pixels from `[0, 255]` to
            `[0, 1]` (`keras.layers.Rescaling(1 / 255)`).
        name: The model's name.

    Returns:
        A functional `keras.Model` mapping examples to logits of shape
        `(batch_size, num_classes)`.
    """
    check_positive_int(num_classes, "num_classes")
    input_shape = _check_input_shape(input_shape)
    hidden_units = _check_positive_ints(hidden_units, "hidden_units", allow_empty=True)
    _check_rate(dropout, "dropout")

    inputs = keras.Input(shape=input_shape, name="inputs")
    x = _rescaling(inputs, rescale)
    x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"dense{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


def _rescaling(x, rescale):
    if not rescale:
        return x
    return keras.layers.Rescaling(1.0 / 255, name="rescaling")(x)


def _conv_block(x, filters, name):
    # The bias is redundant before BatchNormalization, which adds its own.
    x = keras.layers.Conv2D(
        filters, 3, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    # Keras' default momentum (0.99) makes the moving statistics lag far behind
    # the weights on small datasets, so validation scores swing wildly.
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def _check_positive_ints(values, argument_name, allow_empty=False):
    """Returns `values` as a tuple of positive integers, or raises."""
    try:
        checked = tuple(values)
    except TypeError:
        checked = None
    if (
        checked is None
        or (not checked and not allow_empty)
        or not all(is_positive_int(value) for value in checked)
    ):
        kind = "a" if allow_empty else "a non-empty"
        raise ValueError(
            f"`{argument_name}` must be {kind} sequence of positive integers. "
            f"Received: {argument_name}={values!r}"
        )
    return tuple(int(value) for value in checked)


def _check_room_to_pool(input_shape, filters):
    # Each block halves the height and width, rounding down.
    if min(input_shape[:2]) < 2 ** len(filters):
        raise ValueError(
            f"`filters` has {len(filters)} blocks, each halving the image size, "
            f"too many for images of shape {input_shape}: at most "
            f"{int(min(input_shape[:2])).bit_length() - 1} fit. "
            f"Received: filters={filters}"
        )


def _check_optional_units(value, argument_name):
    if value is None or (isinstance(value, numbers.Integral) and value == 0):
        return None
    return check_positive_int(value, argument_name)


def _check_input_shape(input_shape, rank=None):
    """Returns `input_shape` as a tuple of positive integers, or raises."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        not shape
        or not all(is_positive_int(dim) for dim in shape)
        or (rank is not None and len(shape) != rank)
    ):
        expected = "positive integers"
        if rank == 3:
            expected = "3 positive integers (height, width, channels)"
        raise ValueError(
            f"`input_shape` must be a tuple of {expected}. "
            f"Received: input_shape={input_shape!r}"
        )
    return tuple(int(dim) for dim in shape)


def _check_rate(value, argument_name):
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0 <= value < 1
    ):
        raise ValueError(
            f"`{argument_name}` must be a float in [0, 1). "
            f"Received: {argument_name}={value!r}"
        )
