"""Text classifiers over token ids: a Transformer teacher, small students.

All take `int32` token ids `(batch, sequence_length)` (id 0 is padding, see
`WordTokenizer`) and output logits.
"""

import keras

from kdkeras.text.layers import (
    MaskedMeanPooling,
    PaddingAttentionMask,
    PositionEmbedding,
)
from kdkeras.validation import check_number, check_positive_int


def _check_sizes(**sizes):
    for name, value in sizes.items():
        check_positive_int(value, name)


def build_text_transformer(
    vocabulary_size,
    sequence_length,
    num_classes,
    embedding_dim=64,
    num_layers=2,
    num_heads=4,
    feedforward_dim=128,
    dropout=0.1,
    name="text_transformer",
):
    """A Transformer encoder classifier (Vaswani et al., 2017, post-norm).

    Token and learned position embeddings, `num_layers` blocks of
    `keras.layers.MultiHeadAttention` (padding masked) and a feed-forward
    layer, each with a residual connection and layer normalization, then
    the mean over the non-padding tokens and a dense layer to the logits.

    Returns:
        A `keras.Model` from token ids to logits.
    """
    _check_sizes(
        vocabulary_size=vocabulary_size,
        sequence_length=sequence_length,
        num_classes=num_classes,
        embedding_dim=embedding_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        feedforward_dim=feedforward_dim,
    )
    check_number(dropout, "dropout", low=0, high=1)
    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim)(token_ids)
    x = PositionEmbedding(sequence_length)(x)
    x = keras.layers.Dropout(dropout)(x)
    mask = PaddingAttentionMask()(token_ids)
    for _ in range(num_layers):
        attention = keras.layers.MultiHeadAttention(
            num_heads, embedding_dim // num_heads, dropout=dropout
        )(x, x, attention_mask=mask)
        attention = keras.layers.Dropout(dropout)(attention)
        x = keras.layers.LayerNormalization(epsilon=1e-6)(x + attention)
        feedforward = keras.layers.Dense(feedforward_dim, activation="gelu")(x)
        feedforward = keras.layers.Dense(embedding_dim)(feedforward)
        feedforward = keras.layers.Dropout(dropout)(feedforward)
        x = keras.layers.LayerNormalization(epsilon=1e-6)(x + feedforward)
    x = MaskedMeanPooling()([x, token_ids])
    x = keras.layers.Dropout(dropout)(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(token_ids, logits, name=name)


def build_embedding_bag(
    vocabulary_size,
    sequence_length,
    num_classes,
    embedding_dim=8,
    hidden_units=16,
    dropout=0.0,
    name="embedding_bag",
):
    """An embedding bag: the mean of the token embeddings, a small MLP.

    The phone-sized student: its cost is one embedding lookup per token and
    two small dense layers. `hidden_units=None` goes straight to the logits.

    The mean runs over all `sequence_length` positions, padding included
    (the padding id has a learned embedding, so the model also sees the
    length): a plain `GlobalAveragePooling1D` that LiteRT runs in int8. A
    mean over the non-padding tokens only (`MaskedMeanPooling`) needs a cast
    of the ids to float, which has no int8 kernel: its int8 export fails.

    Returns:
        A `keras.Model` from token ids to logits.
    """
    _check_sizes(
        vocabulary_size=vocabulary_size,
        sequence_length=sequence_length,
        num_classes=num_classes,
        embedding_dim=embedding_dim,
    )
    if hidden_units is not None:
        check_positive_int(hidden_units, "hidden_units")
    check_number(dropout, "dropout", low=0, high=1)
    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim)(token_ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    if hidden_units is not None:
        x = keras.layers.Dense(hidden_units, activation="relu")(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(token_ids, logits, name=name)


def build_text_cnn(
    vocabulary_size,
    sequence_length,
    num_classes,
    embedding_dim=8,
    filters=32,
    kernel_size=3,
    name="text_cnn",
):
    """A 1-D CNN over token embeddings, max-pooled over time (Kim, 2014).

    Returns:
        A `keras.Model` from token ids to logits.
    """
    _check_sizes(
        vocabulary_size=vocabulary_size,
        sequence_length=sequence_length,
        num_classes=num_classes,
        embedding_dim=embedding_dim,
        filters=filters,
        kernel_size=kernel_size,
    )
    token_ids = keras.Input((sequence_length,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim)(token_ids)
    x = keras.layers.Conv1D(filters, kernel_size, activation="relu")(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(token_ids, logits, name=name)
