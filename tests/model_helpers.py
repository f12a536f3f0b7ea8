"""Small models shared by test modules (`tests/conftest.py` puts this
folder on `sys.path`, so a test module imports it as `model_helpers`)."""

import keras


def embedding_mlp(width, seed, name):
    """A classifier of 64 inputs (the flattened 8×8 digits) with one hidden
    layer, `{name}_embedding` (`width` ReLU units), and 10 logits,
    `{name}_logits`; its weights drawn from `seed`."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((64,))
    x = keras.layers.Dense(width, activation="relu", name=f"{name}_embedding")(inputs)
    return keras.Model(inputs, keras.layers.Dense(10, name=f"{name}_logits")(x))
