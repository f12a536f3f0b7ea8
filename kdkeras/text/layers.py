"""Keras layers over token ids, where id 0 is padding (see `WordTokenizer`)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kdkeras")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each position to a sequence of vectors.

    Args:
        sequence_length: The largest number of positions.
    """

    def __init__(self, sequence_length, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.sequence_length, input_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        return inputs + ops.expand_dims(self.position_embeddings[:length], 0)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}


@keras.saving.register_keras_serializable(package="kdkeras")
class PaddingAttentionMask(keras.layers.Layer):
    """`(batch, length, length)` booleans: query `i` may attend to key `j`
    when token `j` is not padding (id 0)."""

    def call(self, token_ids):
        keys = ops.expand_dims(ops.not_equal(token_ids, 0), 1)
        queries = ops.expand_dims(ops.ones_like(token_ids, dtype="bool"), 2)
        return ops.logical_and(queries, keys)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[1])


@keras.saving.register_keras_serializable(package="kdkeras")
class MaskedMeanPooling(keras.layers.Layer):
    """The mean of a sequence's vectors over its non-padding tokens.

    Called on `[vectors, token_ids]`: vectors `(batch, length, dim)`, ids
    `(batch, length)`. A text of padding only gives zeros. LiteRT converts
    it to float32 and float16; not to int8, whose op set has no kernel for
    the cast of the ids to float.
    """

    def call(self, inputs):
        vectors, token_ids = inputs
        weights = ops.cast(ops.not_equal(token_ids, 0), vectors.dtype)
        total = ops.sum(vectors * ops.expand_dims(weights, -1), axis=1)
        count = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
        return total / count

    def compute_output_shape(self, input_shape):
        vectors_shape, _ = input_shape
        return (vectors_shape[0], vectors_shape[-1])
