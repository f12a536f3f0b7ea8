"""Running the teacher for a cache: all its logits at once
(`compute_teacher_logits`, for the in-memory caches), or one batch at a time
(`batch_predictor`, for the streamed caches, which hand each batch of logits
to the shard writer so memory holds one batch). A teacher is a Keras model on
any backend, or an estimator with `predict_proba` (e.g. scikit-learn).
"""

import keras
import numpy as np

from kdkeras import batches
from kdkeras.distillation import outputs as model_outputs
from kdkeras.validation import check_examples, check_positive_int


def batch_predictor(teacher, teacher_outputs="auto"):
    """A function from a batch of inputs to the teacher's float32 logits.

    Args:
        teacher: A Keras model, or an estimator with `predict_proba` (e.g.
            scikit-learn), whose probabilities are turned into logits.
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"` for a Keras
            teacher (see `kdkeras.Distiller`).
    """
    if isinstance(teacher, keras.Model):
        kind = model_outputs.resolve_output_kind(
            teacher, teacher_outputs, "teacher_outputs"
        )

        def predict(inputs):
            return teacher.predict_on_batch(inputs)

    elif hasattr(teacher, "predict_proba"):
        kind, predict = "probabilities", teacher.predict_proba
    else:
        raise TypeError(
            "`teacher` must be a Keras model or an estimator with "
            f"`predict_proba`. Received: teacher of type {type(teacher)}"
        )

    def logits(inputs):
        outputs = np.asarray(predict(inputs), dtype="float32")
        if kind == "probabilities":
            outputs = keras.ops.convert_to_numpy(
                model_outputs.probabilities_to_logits(outputs)
            )
        return np.asarray(outputs, dtype="<f4")

    return logits


def compute_teacher_logits(
    teacher, x, batch_size=256, teacher_outputs="auto", verbose=0
):
    """Runs `teacher` over `x` once and returns its logits as a NumPy array.

    Args:
        teacher: A Keras model, or an estimator with `predict_proba` (e.g.
            scikit-learn), whose probabilities are turned into logits.
        x: Inputs: NumPy arrays as the teacher takes them, or a batched
            `tf.data.Dataset` of inputs or `(inputs, labels)`, read batch by
            batch (e.g. from `keras.utils.image_dataset_from_directory(...,
            shuffle=False)`: a cache needs the same order every time).
        batch_size: Batch size of the Keras teacher's `predict` (of arrays).
        teacher_outputs: `"auto"`, `"logits"` or `"probabilities"` for a Keras
            teacher (see `kdkeras.Distiller`).
        verbose: Verbosity of `predict` (1 shows a progress bar).

    Returns:
        `float32` array `(num_samples, num_classes)`.
    """
    check_examples(x, "x")
    check_positive_int(batch_size, "batch_size")
    if isinstance(teacher, keras.Model):
        kind = model_outputs.resolve_output_kind(
            teacher, teacher_outputs, "teacher_outputs"
        )
        outputs = teacher.predict(x, batch_size=batch_size, verbose=verbose)
    elif hasattr(teacher, "predict_proba") and batches.is_dataset(x):
        kind = "probabilities"
        outputs = np.concatenate(
            [teacher.predict_proba(inputs) for inputs in batches.input_batches(x)]
        )
    elif hasattr(teacher, "predict_proba"):
        kind, outputs = "probabilities", teacher.predict_proba(x)
    else:
        raise TypeError(
            "`teacher` must be a Keras model or an estimator with "
            f"`predict_proba`. Received: teacher of type {type(teacher)}"
        )
    return _as_logits(outputs, kind)


def _as_logits(outputs, kind):
    """The teacher's outputs as float32 logits (`kind` says what they are)."""
    outputs = np.asarray(outputs, dtype="float32")
    if kind == "probabilities":
        outputs = keras.ops.convert_to_numpy(
            model_outputs.probabilities_to_logits(outputs)
        )
    return outputs


def layer_names(layers, argument="layers"):
    """`layers` (a name or a list of names) as a list of distinct names."""
    names = [layers] if isinstance(layers, str) else layers
    if (
        not isinstance(names, (list, tuple))
        or not names
        or not all(isinstance(name, str) and name for name in names)
    ):
        raise ValueError(
            f"`{argument}` must name one or more layers of the teacher. "
            f"Received: {argument}={layers!r}"
        )
    return list(dict.fromkeys(names))


def compute_teacher_features(teacher, x, layers, batch_size=256, verbose=0):
    """Runs `teacher` over `x` once and returns the outputs of named layers.

    The stored features let feature methods (RKD, PKT, CRD, hints) train
    offline, with no teacher in memory:
    `offline_dataset(x, y, teacher_logits, teacher_features=...)` and
    `Distiller(teacher=None, features=[...], teacher_feature_shapes=...)`.
    They are held in memory: `num_samples × prod(layer shape)` floats, so
    embeddings (a pooled penultimate layer) rather than large feature maps.

    Args:
        teacher: A functional or Sequential Keras model.
        x: Inputs, as for `compute_teacher_logits`.
        layers: A layer name, or a list of them.
        batch_size: Batch size of `predict` (of arrays).
        verbose: Verbosity of `predict` (1 shows a progress bar).

    Returns:
        A dict from layer name to a `float32` array `(num_samples, ...)`, the
        layer's outputs in inference mode (`training=False`, as the
        Distiller runs its teacher).
    """
    return compute_teacher_logits_and_features(
        teacher, x, layers, batch_size=batch_size, verbose=verbose
    )[1]


def compute_teacher_logits_and_features(
    teacher, x, layers, batch_size=256, teacher_outputs="auto", verbose=0
):
    """`(teacher_logits, teacher_features)` from one pass of the teacher.

    `compute_teacher_logits` and `compute_teacher_features` at the cost of
    one: the cache of `load_or_compute(..., feature_layers=...)`.
    """
    from kdkeras.distillation.features import feature_extractor

    check_examples(x, "x")
    check_positive_int(batch_size, "batch_size")
    if not isinstance(teacher, keras.Model):
        raise TypeError(
            "Stored teacher features need a Keras teacher (its layers are "
            f"named). Received: teacher of type {type(teacher)}"
        )
    names = layer_names(layers)
    kind = model_outputs.resolve_output_kind(
        teacher, teacher_outputs, "teacher_outputs"
    )
    extractor = feature_extractor(teacher, names, "teacher")
    outputs = extractor.predict(x, batch_size=batch_size, verbose=verbose)
    features = {
        name: np.asarray(value, dtype="float32")
        for name, value in zip(names, outputs[1:], strict=True)
    }
    return _as_logits(outputs[0], kind), features
