"""Representative datasets: the model inputs int8 quantization calibrates on."""

import numpy as np
import tensorflow as tf


def _check_shape(shape, expected, argument_name):
    """Checks one example's `shape` against the model's `expected` shape."""
    compatible = len(shape) == len(expected) and all(
        e is None or s is None or s == e for s, e in zip(shape, expected, strict=True)
    )
    if not compatible:
        raise ValueError(
            f"`{argument_name}` must hold model inputs of shape "
            f"{tuple(expected)} (one per example). Received examples of shape "
            f"{tuple(shape)}."
        )


def _check_finite(examples, argument_name):
    """Refuses NaN or infinite calibration inputs: the converter can crash on
    them (a segmentation fault) or silently build a useless int8 model."""
    if not np.issubdtype(examples.dtype, np.floating):
        return
    bad = ~np.isfinite(examples.reshape(len(examples), -1)).all(axis=-1)
    if bad.any():
        raise ValueError(
            f"`{argument_name}` must be finite: {int(bad.sum())} of the "
            f"{len(examples)} calibration examples hold NaN or infinite values "
            f"(examples {np.flatnonzero(bad)[:5].tolist()}). Clean or drop them "
            "before quantizing."
        )


def representative_dataset(data, model, num_examples, argument_name):
    """A generator function yielding `[example]` batches of one for the converter.

    Args:
        data: A NumPy array of inputs (first axis: examples), or a
            `tf.data.Dataset` of inputs or of `(inputs, labels, ...)` tuples,
            batched or not.
        model: The single-input Keras model to be quantized.
        num_examples: How many examples to yield at most.
        argument_name: The name of `data` in the caller, for errors.

    Returns:
        A function returning a generator, as `TFLiteConverter` expects.
    """
    if len(model.inputs) != 1:
        raise ValueError(
            f"`{argument_name}` is only supported for models with one input. "
            f"Model {model.name!r} has {len(model.inputs)} inputs."
        )
    expected = tuple(model.inputs[0].shape[1:])
    # A string in Keras 3, a `tf.DType` in tf_keras (QAT models).
    dtype = tf.as_dtype(model.inputs[0].dtype).as_numpy_dtype
    if isinstance(data, tf.data.Dataset):
        if isinstance(data.element_spec, tuple):
            data = data.map(lambda inputs, *_: inputs)
        shape = tuple(data.element_spec.shape)
        if len(shape) == len(expected) + 1:
            data = data.unbatch()
            shape = shape[1:]
        _check_shape(shape, expected, argument_name)
        # At most `num_examples` (hundreds), read once so they can be checked.
        examples = [np.asarray(example) for example in data.take(num_examples)]
        if not examples:
            raise ValueError(
                f"`{argument_name}` must hold at least one example. "
                "Received an empty dataset."
            )
        examples = np.stack(examples)
    else:
        array = np.asarray(data)
        if array.ndim == 0 or len(array) == 0:
            raise ValueError(
                f"`{argument_name}` must hold at least one example. "
                f"Received an array of shape {array.shape}."
            )
        _check_shape(array.shape[1:], expected, argument_name)
        examples = array[:num_examples]
    _check_finite(examples, argument_name)

    def generate():
        # Each call starts over: the converter may calibrate more than once.
        for example in examples:
            yield [np.asarray(example, dtype=dtype)[None]]

    return generate
