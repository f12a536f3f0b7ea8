"""Registry of distillation losses: one decorator and one `get`."""

import keras

_DISTILLATION_LOSSES = {}


def register_distillation_loss(name):
    """Registers a distillation loss class under `name`.

    The class is also made Keras-serializable in the `kdkeras` package, so a
    model compiled with it saves and loads without `custom_objects`.

    Example:

    ```python
    @kdkeras.losses.register_distillation_loss("my_kd")
    class MyKD(kdkeras.losses.DistillationLoss):
        ...
    ```
    """

    def decorator(cls):
        if name in _DISTILLATION_LOSSES:
            raise ValueError(
                f"A distillation loss named {name!r} is already registered "
                f"({_DISTILLATION_LOSSES[name].__name__}). Choose another name."
            )
        cls = keras.saving.register_keras_serializable(package="kdkeras")(cls)
        _DISTILLATION_LOSSES[name] = cls
        return cls

    return decorator


def registered_names():
    """Returns the sorted names of the registered distillation losses."""
    return sorted(_DISTILLATION_LOSSES)


def get(identifier, **kwargs):
    """Returns a distillation loss from a name, a config dict or an instance.

    Args:
        identifier: A registered name (`"kd"`, `"soft_target_cross_entropy"`,
            `"logit_mse"`, `"hard_pseudo_label"`), a config as returned by
            `keras.saving.serialize_keras_object`, or a loss instance (returned
            as is).
        **kwargs: Constructor arguments used when `identifier` is a name, e.g.
            `temperature=4.0`.

    Returns:
        A `kdkeras.losses.DistillationLoss` (or the given instance).
    """
    if isinstance(identifier, keras.losses.Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _DISTILLATION_LOSSES:
            raise ValueError(
                "Unknown distillation loss. Expected one of "
                f"{registered_names()}. Received: identifier={identifier!r}"
            )
        return _DISTILLATION_LOSSES[identifier](**kwargs)
    if isinstance(identifier, dict):
        loss = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(loss, keras.losses.Loss):
            raise ValueError(
                "The config does not describe a Keras loss. "
                f"Received: identifier={identifier!r}"
            )
        return loss
    raise TypeError(
        "A distillation loss must be a name, a config dict or a "
        "`keras.losses.Loss` instance. Valid names: "
        f"{registered_names()}. Received: identifier={identifier!r} of type "
        f"{type(identifier)}"
    )
