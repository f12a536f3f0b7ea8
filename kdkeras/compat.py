"""The private APIs kdkeras cannot avoid, in one place.

Each name here reaches into a library's internals; `tests/test_compat.py` checks
every one against the installed versions, so a release that changes one fails
there, loudly, instead of somewhere deep in training or export.

They are: Keras' loss scaling under `tf.distribute` (not exported by
`keras`); two fixes of Keras' TensorFlow trainer under a
`MultiWorkerMirroredStrategy` across workers (`MultiWorkerFit`); the layer
that made a symbolic Keras tensor (a private attribute); telling a `tf_keras` (Keras 2)
model apart without importing `tf_keras`; the op list of a
LiteRT interpreter (a private method); and what
kdkeras relies on of tensorflow-model-optimization's internals: the names of
its variables, the decay of its moving-average quantizer and the wording of
its errors (tfmot exposes none of them). tfmot itself is never imported here.
"""

import re
import sys

import keras
from keras.src.losses.loss import (
    scale_loss_for_distribution as _scale_loss_for_distribution,
)
from keras.src.losses.loss import (
    unscale_loss_for_distribution as _unscale_loss_for_distribution,
)


def scale_loss_for_distribution(loss):
    """`loss / replicas` under a `tf.distribute` strategy, else `loss`.

    Each replica adds its share, so the summed gradient counts a term once.
    Keras' own losses scale this way; terms kdkeras adds must too.
    """
    return _scale_loss_for_distribution(loss)


def unscale_loss_for_distribution(loss):
    """`loss · replicas` under a `tf.distribute` strategy, else `loss`.

    A replica's loss is its share of the whole; a tracker logs the whole.
    """
    return _unscale_loss_for_distribution(loss)


class MultiWorkerFit:
    """Lets Keras' TensorFlow trainer `fit` and `evaluate` across workers.

    Under a `tf.distribute.MultiWorkerMirroredStrategy` with more than one
    worker, Keras 3.15's `Model.fit` fails twice (keras-team/keras#20585,
    tensorflow/tensorflow#72388), and this mixin fixes both:

    - Before the first step, the trainer reduces a whole input batch across
      the replicas to read its shapes; a nested batch cannot be reduced
      across workers ("Attempt to convert a value (PerReplica...)"). Here
      the shapes are read from this worker's part of the batch, with no
      communication.
    - After each step, the logs (scalars) are averaged over the replicas by
      `strategy.reduce("MEAN", value, axis=0)`, which needs an axis ("Invalid
      reduction dimension 0 for input with 0 dimensions"). Here each
      replica's logs get an axis of length 1 first, so the reduction returns
      their mean, a scalar, as on one machine.

    Elsewhere (one worker, another strategy, another backend) nothing changes.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and _across_workers(self):
            iterator, data_batch = None, _local_batch(self, iterator)
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_step(self, *args, **kwargs):
        return _with_replica_axis(self, super().train_step(*args, **kwargs))

    def test_step(self, *args, **kwargs):
        return _with_replica_axis(self, super().test_step(*args, **kwargs))


def _across_workers(model):
    """Whether Keras reduces `model`'s logs as across several workers."""
    if keras.backend.backend() != "tensorflow":
        return False
    from keras.src.backend.tensorflow.trainer import (
        _collective_all_reduce_multi_worker,
    )

    return _collective_all_reduce_multi_worker(model.distribute_strategy)


def _local_batch(model, iterator):
    """The first batch of a `TFEpochIterator`, this worker's first replica's part."""
    import tensorflow as tf

    strategy = model.distribute_strategy
    for _, _, batches in iterator:
        batch = next(batches)
        break
    return keras.tree.map_structure(
        lambda value: (
            strategy.experimental_local_results(value)[0]
            if isinstance(value, tf.distribute.DistributedValues)
            else value
        ),
        batch,
    )


def _with_replica_axis(model, logs):
    if not isinstance(logs, dict) or not _across_workers(model):
        return logs
    return {name: keras.ops.reshape(value, (1,)) for name, value in logs.items()}


def producing_layer(tensor):
    """The layer whose call made a symbolic Keras tensor, or `None`.

    Keras records it only in the private `KerasTensor._keras_history`,
    `(layer, node_index, tensor_index)`; there is no public accessor.

    Args:
        tensor: A tensor of a functional model, such as `model.outputs[0]`,
            or anything else (then the result is `None`).

    Returns:
        The layer (a nested model is one), or `None`.
    """
    history = getattr(tensor, "_keras_history", None)
    return None if history is None else history[0]


def is_tf_keras_model(model):
    """Whether `model` is a `tf_keras` (Keras 2) model, e.g. tfmot's QAT model.

    Keras 3 and `tf_keras` models share no class: a `tf_keras` model is no
    `keras.Model`. Only a process that imported `tf_keras` can hold one, so
    it is looked up in `sys.modules`, never imported here.
    """
    tf_keras = sys.modules.get("tf_keras")
    return tf_keras is not None and isinstance(model, tf_keras.Model)


def litert_ops(interpreter):
    """The ops of a LiteRT interpreter's model, in execution order.

    `Interpreter._get_ops_details()` is the only way ai-edge-litert lists a
    model's ops; there is no public equivalent.

    Args:
        interpreter: An `ai_edge_litert.interpreter.Interpreter`.

    Returns:
        A list of dicts, each with `op_name` (e.g. `"CONV_2D"`), `index`, and
        `inputs` and `outputs`, tensor indices (-1 for an absent optional
        input).
    """
    return list(interpreter._get_ops_details())


TFMOT_MOVING_AVERAGE_DECAY = 0.999
"""The decay of the activation ranges of tfmot's `MovingAverageQuantizer`.

tfmot passes it as a literal (`ema_decay=0.999`) and offers no way to read or
change it.
"""

# Variables of tfmot's MovingAverageQuantizer (activations), named by
# `QuantizeWrapper` ("output") and `QuantizeAwareActivation` ("pre_activation",
# "post_activation"). Kernel ranges are recomputed from the weights at each
# step, and the input layer's `AllValuesQuantizer` does not average.
_TFMOT_ACTIVATION_RANGE_SUFFIXES = tuple(
    f"{kind}_{end}"
    for kind in ("output", "pre_activation", "post_activation")
    for end in ("min", "max")
)

# tfmot's own variables: pruning masks and their bookkeeping
# (`PruneLowMagnitude`), quantization ranges (`*_min`, `*_max`) and step counters
# (`QuantizeWrapper`, `QuantizeLayer`).
_TFMOT_BOOKKEEPING_SUFFIXES = (
    "mask",
    "threshold",
    "pruning_step",
    "_min",
    "_max",
    "optimizer_step",
)


def _variable_name(weight):
    """`"output_min"` for a `tf_keras` variable named `"quant_conv/output_min:0"`."""
    return weight.name.split(":")[0].split("/")[-1]


def tfmot_activation_ranges(qat_model):
    """The moving-average activation ranges of a tfmot quantization-aware model.

    They are recognized by the variable names tfmot gives them.

    Args:
        qat_model: A `tf_keras` model from `tfmot.quantization.keras.quantize_apply`.

    Returns:
        The `min` and `max` variables of every `MovingAverageQuantizer`
        that quantizes an activation or a layer output.
    """
    return [
        weight
        for weight in qat_model.non_trainable_weights
        if _variable_name(weight).endswith(_TFMOT_ACTIVATION_RANGE_SUFFIXES)
    ]


def tfmot_batch_range(updated, previous):
    """The range a batch showed, from one update of a tfmot activation range.

    tfmot's `MovingAverageQuantizer` updates a range in training mode as
    `updated = decay · previous + (1 − decay) · batch`; this inverts it.

    Args:
        updated: The range variable's value after the forward pass.
        previous: Its value before.

    Returns:
        `(updated − decay · previous) / (1 − decay)`, with
        `decay = TFMOT_MOVING_AVERAGE_DECAY`.
    """
    decay = TFMOT_MOVING_AVERAGE_DECAY
    return (updated - decay * previous) / (1.0 - decay)


def tfmot_layer_weights(layer):
    """A `tf_keras` layer's model weights, without tfmot's own variables.

    A tfmot wrapper (`PruneLowMagnitude`, `QuantizeWrapper`) holds the
    weights of the layer it wraps next to pruning masks, thresholds, steps and
    quantization ranges; they are recognized by the names tfmot gives them.

    Args:
        layer: A `tf_keras` layer, wrapped by tfmot or not.

    Returns:
        The layer's variables other than tfmot's, in order: for a wrapped
        `Dense`, `[kernel, bias]`.
    """
    return [
        weight
        for weight in layer.weights
        if not _variable_name(weight).endswith(_TFMOT_BOOKKEEPING_SUFFIXES)
    ]


# `Layer dense:<class 'tf_keras.src.layers.core.dense.Dense'> is not supported.`
_TFMOT_UNSUPPORTED_LAYER = re.compile(r"Layer (\S+?):<class '[\w.]*?(\w+)'>")


def tfmot_unsupported_layer(message):
    """The layer a tfmot `quantize_apply` error names, or `None`.

    tfmot says which layer it cannot quantize only in the text of its error.

    Args:
        message: The error's message.

    Returns:
        `(layer_name, class_name)`, or `None` if no layer is named.
    """
    match = _TFMOT_UNSUPPORTED_LAYER.search(message)
    return None if match is None else match.groups()
