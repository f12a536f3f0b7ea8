"""The kinds of model kdkeras scores and times: a Keras model, a LiteRT file.

`evaluate_model` and `measure_latency` take either. `model_kind` is the one
place that tells them apart: it wraps the model in a `KerasKind` or a
`LiteRTKind`, which answer the same questions (how it predicts, how many
classes it outputs, what it weighs, how one inference is timed), so that
neither function branches on the format.

```python
kind = model_kind("student_int8.tflite", num_threads=1)
kind.format                      # "litert"
run, threads = kind.latency_runner(example=None)
run()                            # one batch-1 inference
```
"""

import os
import time

import keras
import numpy as np

from kdkeras.evaluation import sparsity
from kdkeras.evaluation.sizes import count_parameters, model_size_bytes
from kdkeras.evaluation.tables import format_size
from kdkeras.litert.checks import load_litert_model
from kdkeras.litert.litert_model import LiteRTModel
from kdkeras.progress import print_step
from kdkeras.validation import check_single_output
from kdkeras.validation import num_classes as num_classes_of


class ModelKind:
    """What scoring and timing need of one kind of model (the interface).

    Attributes:
        format: `"keras"` or `"litert"`, the `format` of a scored row.
        model: The model the kind runs (a `LiteRTModel` for a path).
    """

    format = None

    def __init__(self, model):
        self.model = model

    @property
    def name(self):
        """The model's name: the default name of its row."""
        return self.model.name

    @property
    def source(self):
        """The model, as errors name it."""
        raise NotImplementedError

    def predict(self, x, batch_size, verbose):
        """The outputs on array inputs `x`."""
        return self.model.predict(x, batch_size=batch_size, verbose=verbose)

    def predict_batch(self, inputs, batch_size):
        """The outputs on one batch of a dataset."""
        raise NotImplementedError

    def static_num_classes(self):
        """The class count, read without running the model, or `None`."""
        raise NotImplementedError

    def size_fields(self, row_name, verbose):
        """`parameters`, `size_bytes`, `gzipped_bytes`, `sparsity` and
        `layer_sparsity` of a scored row."""
        raise NotImplementedError

    def latency_runner(self, example):
        """`(run, num_threads)`: a function running one batch-1 inference on
        `example` (see `single_example`), and the threads it runs with."""
        raise NotImplementedError


class KerasKind(ModelKind):
    """A `keras.Model`: its weights are counted, sized and timed in Keras."""

    format = "keras"

    def __init__(self, model, num_threads=None, parameters=None):
        if parameters is not None:
            raise ValueError(
                "`parameters` must be None for a Keras model, whose weights are "
                f"counted. Received: parameters={parameters!r}"
            )
        if num_threads is not None:
            raise ValueError(
                "`num_threads` must be None for a Keras model: TensorFlow's threads "
                "are set once per process with "
                "`tf.config.threading.set_intra_op_parallelism_threads`. "
                f"Received: num_threads={num_threads!r}"
            )
        super().__init__(model)

    @property
    def source(self):
        return f"model {self.model.name!r}"

    def predict_batch(self, inputs, batch_size):
        return self.model.predict_on_batch(inputs)

    def static_num_classes(self):
        check_single_output(self.model, "model")
        return _class_count((num_classes_of(self.model),))

    def size_fields(self, row_name, verbose):
        start = time.perf_counter()
        kernel_sparsity = sparsity.sparsity_report(self.model)
        fields = {
            "parameters": count_parameters(self.model),
            "size_bytes": model_size_bytes(self.model),
            "gzipped_bytes": sparsity.gzipped_size_bytes(self.model),
            "sparsity": kernel_sparsity["overall"],
            "layer_sparsity": kernel_sparsity["layers"],
        }
        if verbose == 2:  # Sizing a Keras model saves it: a step of its own.
            print_step(
                row_name,
                f"{fields['parameters']:,} parameters, "
                f"{format_size(fields['size_bytes'])} as .keras "
                f"({time.perf_counter() - start:.1f} s)",
            )
        return fields

    def latency_runner(self, example):
        model = self.model
        if len(model.inputs) != 1:
            raise ValueError(
                "`model` must have one input. Received: a model with "
                f"{len(model.inputs)} inputs"
            )
        example = single_example(example, tuple(model.inputs[0].shape))
        x = keras.ops.convert_to_tensor(example, dtype=model.inputs[0].dtype)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            call = tf.function(lambda inputs: model(inputs, training=False))
            threads = tf.config.threading.get_intra_op_parallelism_threads() or None
        else:
            call = lambda inputs: model(inputs, training=False)  # noqa: E731
            threads = None

        def run():
            keras.ops.convert_to_numpy(call(x))

        return run, threads


class LiteRTKind(ModelKind):
    """A `.tflite` file or a `LiteRTModel`, run by the LiteRT interpreter.

    A path is loaded with `num_threads`; a given `LiteRTModel` predicts with
    its own threads and is timed with `num_threads` (loaded again from its
    file when they differ).
    """

    format = "litert"

    def __init__(self, model, num_threads=None, parameters=None):
        super().__init__(
            load_litert_model(model, num_threads=num_threads, argument_name="model")
        )
        self.num_threads = num_threads
        self.parameters = None if parameters is None else int(parameters)

    @property
    def source(self):
        return repr(self.model.path)

    def predict_batch(self, inputs, batch_size):
        return self.model.predict(inputs, batch_size=batch_size, verbose=0)

    def static_num_classes(self):
        details = self.model.output_details
        return _class_count(tuple(details[0]["shape"]) if len(details) == 1 else ())

    def size_fields(self, row_name, verbose):
        return {
            "parameters": self.parameters,
            "size_bytes": self.model.size_bytes,
            "gzipped_bytes": sparsity.gzipped_size_bytes(self.model.path),
            "sparsity": None,
            "layer_sparsity": None,
        }

    def latency_runner(self, example):
        model = self.model
        if self.num_threads is not None and self.num_threads != model.num_threads:
            model = LiteRTModel(model.path, num_threads=self.num_threads)
        model.set_input(single_example(example, model.input_shape))
        return model.invoke, model.num_threads


KINDS = {kind.format: kind for kind in (KerasKind, LiteRTKind)}
"""The kind of each `format`."""


def model_format(model):
    """`"keras"` or `"litert"`: the kind of model `model` is."""
    if isinstance(model, keras.Model):
        return KerasKind.format
    if isinstance(model, (str, bytes, os.PathLike, LiteRTModel)):
        return LiteRTKind.format
    raise ValueError(
        "`model` must be a keras.Model, the path of a .tflite file or a "
        f"kdkeras.litert.LiteRTModel. Received: model of type {type(model).__name__}"
    )


def model_kind(model, num_threads=None, parameters=None):
    """`model` as a `KerasKind` or a `LiteRTKind` (a path is loaded).

    Args:
        model: A `keras.Model`, the path of a `.tflite` file or a
            `LiteRTModel`.
        num_threads: Threads of the LiteRT interpreter; must be `None` for a
            Keras model.
        parameters: The parameter count of a LiteRT model's row; must be
            `None` for a Keras model.
    """
    return KINDS[model_format(model)](
        model, num_threads=num_threads, parameters=parameters
    )


def static_num_classes(model):
    """The class count of a classifier, read without running it, or `None`."""
    return model_kind(model).static_num_classes()


def _class_count(shape):
    count = shape[-1] if shape else None
    return count if count is not None and count >= 2 else None


def single_example(example, shape):
    """`example` with a batch axis of 1, or a random one of `shape[1:]`."""
    if example is None:
        if any(size is None for size in shape[1:]):
            raise ValueError(
                "`example` is required for a model whose input shape has unknown "
                f"sizes. Received: input_shape={shape}"
            )
        rng = np.random.default_rng(0)
        return rng.random((1,) + tuple(shape[1:]), dtype=np.float32)
    example = np.asarray(example)
    if example.ndim == len(shape) - 1:
        example = example[None]
    if example.ndim != len(shape) or example.shape[0] != 1:
        expected = ", ".join("None" if s is None else str(s) for s in shape[1:])
        raise ValueError(
            f"`example` must be one input, of shape ({expected}) or (1, {expected}). "
            f"Received: example of shape {example.shape}"
        )
    return example
