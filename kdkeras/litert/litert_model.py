"""Running a `.tflite` model on NumPy arrays, as `keras.Model.predict` does.

This is the only kdkeras module that opens a LiteRT `Interpreter`: what
kdkeras reads of a `.tflite` file (its tensors, its ops) goes through
`LiteRTModel`.
"""

import os
import time

import keras
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from kdkeras import compat
from kdkeras.validation import check_positive_int, check_tflite_file

_PROGRESS_AFTER_SECONDS = 1.0


class LiteRTModel:
    """A `.tflite` classifier or regressor loaded with the LiteRT interpreter.

    `predict` takes the same real-valued inputs whatever the model's precision:
    for a model with integer (int8, uint8, int16) input tensors the inputs are
    quantized with the tensor's scale and zero point, and integer outputs are
    dequantized, so a float32 model and its int8 version are compared on the
    same arrays.

    Example:

    ```python
    model = LiteRTModel("student_int8.tflite", num_threads=1)
    logits = model.predict(x_test)           # float32, (N, 10)
    model.size_bytes                         # the file size
    ```

    An instance holds one interpreter and must not be shared between threads.

    Args:
        path: Path of the `.tflite` file. The model must have one input; it
            may have several outputs.
        num_threads: Number of CPU threads of the interpreter (a positive
            `int`), or `None` for LiteRT's default.
    """

    def __init__(self, path, num_threads=None):
        # Checked by content: a `.keras` file or a truncated download is
        # refused here, not by the interpreter's "not a valid Flatbuffer".
        self._path = check_tflite_file(path, "path")
        self._num_threads = check_positive_int(
            num_threads, "num_threads", allow_none=True
        )
        self._interpreter = Interpreter(
            model_path=self._path, num_threads=self._num_threads
        )
        self._interpreter.allocate_tensors()
        self._ops = None
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            raise ValueError(
                "`path` must hold a model with exactly one input. Received: "
                f"a model with {len(inputs)} inputs ({self._path!r})"
            )
        self._input_index = inputs[0]["index"]
        signature = inputs[0]["shape_signature"]
        self._input_shape = tuple(None if size < 0 else int(size) for size in signature)
        self._input_quantization = tensor_quantization(inputs[0], "input")
        self._output_quantizations = [
            tensor_quantization(details, "output")
            for details in self._interpreter.get_output_details()
        ]

    def __repr__(self):
        return (
            f"LiteRTModel(path={self._path!r}, input_shape={self.input_shape}, "
            f"input_dtype={self.input_dtype.name}, num_threads={self._num_threads})"
        )

    @property
    def path(self):
        """The path of the `.tflite` file."""
        return self._path

    @property
    def name(self):
        """The file name without its extension, e.g. `"student_int8"`."""
        return os.path.splitext(os.path.basename(self._path))[0]

    @property
    def num_threads(self):
        """The interpreter's number of threads (`None`: LiteRT's default)."""
        return self._num_threads

    @property
    def input_details(self):
        """The interpreter's `get_input_details()` (a list of one `dict`)."""
        return self._interpreter.get_input_details()

    @property
    def output_details(self):
        """The interpreter's `get_output_details()`, one `dict` per output."""
        return self._interpreter.get_output_details()

    @property
    def tensor_details(self):
        """The interpreter's `get_tensor_details()`, one `dict` per tensor."""
        return self._interpreter.get_tensor_details()

    @property
    def ops(self):
        """The model's ops as the file stores them, one `dict` per op, in order.

        Each has `op_name` (e.g. `"CONV_2D"`), `index`, and `inputs` and
        `outputs`: indices into `tensor_details` (-1 for an absent optional
        input).
        """
        if self._ops is None:
            # Read before `allocate_tensors`, when no delegate (XNNPACK) has
            # yet replaced the ops it runs with one node of its own.
            self._ops = compat.litert_ops(Interpreter(model_path=self._path))
        return self._ops

    def get_tensor(self, index):
        """A copy of the tensor at `index` (e.g. a kernel), as stored."""
        return self._interpreter.get_tensor(index)

    @property
    def input_shape(self):
        """The input shape as saved, `None` for a dynamic size.

        For example `(None, 28, 28, 1)` for a model with a dynamic batch size.
        """
        return self._input_shape

    @property
    def input_dtype(self):
        """The dtype of the input tensor (`np.dtype`), e.g. `float32` or `int8`."""
        return np.dtype(self._interpreter.get_input_details()[0]["dtype"])

    @property
    def size_bytes(self):
        """The size of the `.tflite` file in bytes."""
        return os.path.getsize(self._path)

    def predict(self, x, batch_size=32, verbose="auto"):
        """Runs the model on `x` batch by batch.

        A model saved with a dynamic batch size is resized to `batch_size`
        (the last batch may be smaller); a model with a fixed batch size (often
        1) runs on batches of that size, the last one padded.

        Args:
            x: The inputs, an array of shape `(N,) + input_shape[1:]`, real
                values: they are quantized for an integer input tensor (see
                `quantize`) and cast to the input dtype otherwise.
            batch_size: Number of examples per interpreter call, for models with
                a dynamic batch size.
            verbose: `"auto"` shows a `keras.utils.Progbar` once the loop has
                run for more than a second, `1` from the start, `0` never;
                `2` prints one line when the loop ends, as Keras' `predict`.

        Returns:
            The outputs as `float32` arrays, integer outputs dequantized: one
            array for a model with one output, else a list.
        """
        x = self._check_inputs(x)
        check_positive_int(batch_size, "batch_size")
        if verbose not in ("auto", 0, 1, 2, True, False):
            raise ValueError(
                f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}"
            )
        fixed_batch = self._input_shape[0]
        step = fixed_batch if fixed_batch is not None else int(batch_size)
        starts = range(0, len(x), step)
        progress = _Progress(len(starts), verbose)
        outputs = []
        for number, start in enumerate(starts, start=1):
            batch = x[start : start + step]
            size = len(batch)
            if fixed_batch is not None and size < fixed_batch:
                padding = np.zeros((fixed_batch - size,) + batch.shape[1:], batch.dtype)
                batch = np.concatenate([batch, padding])
            self.set_input(batch)
            self.invoke()
            outputs.append([output[:size] for output in self.get_outputs()])
            progress.update(number)
        if not outputs:
            outputs = [self._empty_outputs()]
        results = [np.concatenate(parts) for parts in zip(*outputs, strict=True)]
        return results[0] if len(results) == 1 else results

    def set_input(self, batch):
        """Checks `batch`, quantizes or casts it and copies it into the input
        tensor.

        The input tensor is resized (and the tensors reallocated) when the
        shape of `batch` differs from the current one.

        Raises:
            ValueError: If `batch` is not a batch of this model's inputs.
        """
        batch = self._to_input_dtype(self._check_inputs(batch))
        details = self._interpreter.get_input_details()[0]
        if tuple(details["shape"]) != batch.shape:
            self._interpreter.resize_tensor_input(self._input_index, batch.shape)
            self._interpreter.allocate_tensors()
        self._interpreter.set_tensor(self._input_index, batch)

    def invoke(self):
        """Runs the interpreter once on the input set by `set_input`."""
        self._interpreter.invoke()

    def get_outputs(self):
        """The current outputs as `float32` arrays, dequantized, in order."""
        outputs = []
        for details, (scale, zero_point) in zip(
            self._interpreter.get_output_details(),
            self._output_quantizations,
            strict=True,
        ):
            output = self._interpreter.get_tensor(details["index"])
            if scale is not None:
                outputs.append(dequantize(output, scale, zero_point))
            else:
                outputs.append(output.astype(np.float32))
        return outputs

    def _to_input_dtype(self, batch):
        dtype = self.input_dtype
        scale, zero_point = self._input_quantization
        if scale is not None:
            return quantize(batch, scale, zero_point, dtype)
        return batch.astype(dtype, copy=False)

    def _check_inputs(self, x):
        x = np.asarray(x)
        expected = self._input_shape[1:]
        matches = x.ndim == len(self._input_shape) and all(
            size is None or size == actual
            for size, actual in zip(expected, x.shape[1:], strict=True)
        )
        if not matches:
            sizes = ["None" if size is None else str(size) for size in expected]
            shape = ", ".join(["N"] + sizes)
            raise ValueError(
                f"`x` must have shape ({shape}) for the model {self.name!r}, a "
                f"batch of examples. Received: x of shape {x.shape}"
            )
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise ValueError(f"`x` must hold numbers. Received: x of dtype {x.dtype}")
        return x

    def _empty_outputs(self):
        return [
            np.zeros((0,) + tuple(details["shape"][1:]), np.float32)
            for details in self._interpreter.get_output_details()
        ]


def quantize(values, scale, zero_point, dtype):
    """Real values to integers: `clip(round(values / scale) + zero_point)`.

    Rounds half to even (`np.round`, as LiteRT does) and clips to the range of
    `dtype`.

    Args:
        values: Real values, an array.
        scale: The quantization scale, a positive float.
        zero_point: The integer that stands for 0.
        dtype: An integer dtype, e.g. `np.int8` or `np.uint8`.

    Returns:
        An array of `dtype` with the shape of `values`.
    """
    info = np.iinfo(dtype)
    values = np.asarray(values, dtype=np.float32)
    integers = np.round(values / np.float32(scale)) + zero_point
    return np.clip(integers, info.min, info.max).astype(dtype)


def dequantize(integers, scale, zero_point):
    """Integers to real values: `(integers - zero_point) * scale`, as `float32`."""
    integers = np.asarray(integers).astype(np.int32)
    return ((integers - zero_point) * np.float32(scale)).astype(np.float32)


def tensor_quantization(details, kind="tensor"):
    """`(scale, zero_point)` of a tensor; `(None, 0)` when it is not quantized.

    The one convention of kdkeras for "unquantized": a tensor is quantized
    when its dtype is an integer and it has a nonzero scale; a float tensor,
    or an integer one without quantization parameters, gives `(None, 0)`. A real
    value `x` then goes into a quantized tensor as
    `round(x / scale) + zero_point`.

    Args:
        details: One entry of the interpreter's `get_input_details()`,
            `get_output_details()` or `get_tensor_details()`.
        kind: What the tensor is (`"input"`, `"output"`), for errors.

    Raises:
        ValueError: For a tensor quantized per channel (several scales).
    """
    parameters = details["quantization_parameters"]
    scales = parameters["scales"]
    if len(scales) > 1:
        raise ValueError(
            f"Per-channel quantized {kind} tensors are not supported. Received: "
            f"{kind} {details['name']!r} with {len(scales)} scales"
        )
    integer = np.issubdtype(np.dtype(details["dtype"]), np.integer)
    if len(scales) == 0 or scales[0] == 0.0 or not integer:
        return None, 0
    return float(scales[0]), int(parameters["zero_points"][0])


class _Progress:
    """A `keras.utils.Progbar` shown when `verbose` asks for it.

    With `verbose="auto"` the bar appears only once the loop has run for more
    than a second, so quick loops stay silent; `verbose=2` prints one line
    when the loop ends.
    """

    def __init__(self, target, verbose):
        self._target = target
        self._verbose = verbose
        self._start = time.perf_counter()
        self._bar = None
        if verbose is True or verbose == 1:
            self._bar = keras.utils.Progbar(target)
        elif verbose == 2:
            self._bar = keras.utils.Progbar(target, verbose=2)

    def update(self, current):
        if self._bar is None and self._verbose == "auto":
            if time.perf_counter() - self._start > _PROGRESS_AFTER_SECONDS:
                self._bar = keras.utils.Progbar(self._target)
        if self._bar is not None:
            self._bar.update(current)
