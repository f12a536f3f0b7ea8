"""The teacher's logits one batch at a time, for the streamed caches.

`sharded_cache` and `sharded_views` run the teacher in Python batch by batch
(a Keras model on any backend, or a scikit-learn estimator) and hand each
batch of logits to the shard writer, so memory holds one batch.
"""

import keras
import numpy as np

from kdkeras import batches
from kdkeras.distillation import fingerprints
from kdkeras.distillation import outputs as model_outputs


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


def input_batches(x, batch_size):
    """The input batches of a dataset, or of arrays cut into `batch_size` rows."""
    if batches.is_dataset(x):
        yield from batches.input_batches(x)
        return
    for start in range(0, fingerprints.num_samples(x), batch_size):
        stop = start + batch_size
        if isinstance(x, dict):
            yield {key: value[start:stop] for key, value in x.items()}
        elif isinstance(x, (list, tuple)):
            yield [value[start:stop] for value in x]
        else:
            yield x[start:stop]
