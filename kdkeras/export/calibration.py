"""Representative datasets: the model inputs int8 quantization calibrates on."""

import numpy as np
import tensorflow as tf

from kdkeras.progress import progress_bar


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


def representative_dataset(data, model, num_examples, argument_name, verbose=0):
    """The converter's `representative_dataset`: `[example]` batches of one.

    Args:
        data: A NumPy array of inputs (first axis: examples), or a
            `tf.data.Dataset` of inputs or of `(inputs, labels, ...)` tuples,
            batched or not.
        model: The single-input Keras model to be quantized.
        num_examples: How many examples to yield at most.
        argument_name: The name of `data` in the caller, for errors.
        verbose: `1` shows a `keras.utils.Progbar` of each calibration pass.

    Returns:
        A `RepresentativeDataset`: called, it returns a generator, as
        `TFLiteConverter` expects.
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
    return RepresentativeDataset(examples, dtype, verbose)


class RepresentativeDataset:
    """Calibration examples: called, yields them as `[example]` batches of one.

    Each call starts over: the converter may calibrate more than once.

    Args:
        examples: The checked examples, an array (first axis: examples).
        dtype: The model's input dtype, a NumPy dtype.
        verbose: `1` shows a `keras.utils.Progbar` of each pass.
    """

    def __init__(self, examples, dtype, verbose=0):
        self._examples = examples
        self._dtype = dtype
        self._verbose = verbose

    @property
    def num_examples(self):
        """How many examples one pass yields."""
        return len(self._examples)

    def __call__(self):
        bar = progress_bar(len(self._examples), self._verbose, unit_name="example")
        for number, example in enumerate(self._examples, start=1):
            yield [np.asarray(example, dtype=self._dtype)[None]]
            if bar is not None:
                bar.update(number)
