"""The registry of distillation methods: one decorator and one `get`.

Every method is registered here under a name with its kind: `"logits"` for
the losses between the teacher's and the student's logits (KD, DKD, …;
`compile(distillation_loss_fn=...)`), `"features"` for the losses between
named intermediate layers (hints, attention transfer;
`Distiller(features=[...])`). The class says its kind (its `kind` attribute;
`"logits"` when it has none).
"""

import keras

KINDS = ("logits", "features")
"""The kinds of method: losses over logits, losses over feature maps."""

_METHODS = {}


def register_distillation_loss(name):
    """Registers a distillation method class under `name`.

    The class is also made Keras-serializable in the `kdkeras` package, so a
    model compiled with it saves and loads without `custom_objects`. Its
    `kind` class attribute (`"logits"` or `"features"`) is recorded with it.

    Example:

    ```python
    @kdkeras.losses.register_distillation_loss("my_kd")
    class MyKD(kdkeras.losses.DistillationLoss):
        ...
    ```
    """

    def decorator(cls):
        if name in _METHODS:
            raise ValueError(
                f"A distillation method named {name!r} is already registered "
                f"({_METHODS[name].__name__}). Choose another name."
            )
        kind = method_kind(cls)
        if kind not in KINDS:
            raise ValueError(
                f"A distillation method's `kind` must be one of {list(KINDS)}. "
                f"Received: {cls.__name__}.kind={kind!r}"
            )
        cls = keras.saving.register_keras_serializable(package="kdkeras")(cls)
        _METHODS[name] = cls
        return cls

    return decorator


def method_kind(method):
    """`"logits"` or `"features"`: the kind of a method class or instance."""
    return getattr(method, "kind", "logits")


def registered_names(kind=None):
    """The sorted names of the registered methods, all or of one `kind`."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"`kind` must be one of {list(KINDS)}. Received: {kind!r}")
    return sorted(
        name for name, cls in _METHODS.items() if kind in (None, method_kind(cls))
    )


def registered_kinds():
    """`{name: kind}` of every registered method, sorted by name."""
    return {name: method_kind(_METHODS[name]) for name in registered_names()}


def registered_class(name):
    """The class registered under `name`.

    Raises:
        ValueError: If no method is registered under `name`; it lists them.
    """
    if not isinstance(name, str) or name not in _METHODS:
        raise ValueError(
            "Unknown distillation method. Expected one of "
            f"{registered_names()}. Received: identifier={name!r}"
        )
    return _METHODS[name]


def get(identifier, **kwargs):
    """Returns a distillation method from a name, a config dict or an instance.

    Args:
        identifier: A registered name (`"kd"`, `"dkd"`, `"logit_mse"`, …,
            `"hint"`, `"attention_transfer"`: see `registered_kinds()`), a
            config as returned by `keras.saving.serialize_keras_object`, or
            an instance (returned as is).
        **kwargs: Constructor arguments used when `identifier` is a name, e.g.
            `temperature=4.0`, or `teacher_layer="block3", student_layer="conv2"`
            for a feature method.

    Returns:
        A `kdkeras.losses.DistillationLoss` (or any given `keras.losses.Loss`)
        for kind `"logits"`; a `kdkeras.losses.FeatureDistillation` for kind
        `"features"`.
    """
    if _is_method(identifier):
        return identifier
    if isinstance(identifier, str):
        return registered_class(identifier)(**kwargs)
    if isinstance(identifier, dict):
        method = keras.saving.deserialize_keras_object(identifier)
        if not _is_method(method):
            raise ValueError(
                "The config does not describe a Keras loss or a registered "
                f"distillation method. Received: identifier={identifier!r}"
            )
        return method
    raise TypeError(
        "A distillation method must be a name, a config dict or a "
        "`keras.losses.Loss` or `FeatureDistillation` instance. Valid names: "
        f"{registered_names()}. Received: identifier={identifier!r} of type "
        f"{type(identifier)}"
    )


def _is_method(value):
    """A Keras loss (kind "logits"), or an instance of a method class: one
    that says its kind (a `FeatureDistillation` says `"features"`)."""
    return isinstance(value, keras.losses.Loss) or (
        not isinstance(value, type) and getattr(type(value), "kind", None) in KINDS
    )
