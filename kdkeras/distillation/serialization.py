"""The `Distiller`'s config: its models, views and features, serialized.

`get_config` stores every model and layer the Distiller was built with;
the models are stored without their own compile state, because the
Distiller's `compile` is what is saved and restored with it.
"""

import copy

import keras

# The constructor arguments that hold one Keras object each.
_OBJECT_ARGUMENTS = (
    "teacher",
    "student",
    "teacher_view",
    "student_view",
    "augmentation",
)


def distiller_config(distiller):
    """The constructor arguments of `distiller`, serialized."""
    return {
        "teacher": _serialize_without_compile(distiller.teacher),
        "student": _serialize_without_compile(distiller.student),
        "teacher_outputs": distiller.teacher_outputs,
        "teacher_view": _serialize_layer(distiller.teacher_view),
        "student_view": _serialize_layer(distiller.student_view),
        "augmentation": _serialize_layer(distiller.augmentation),
        "features": None
        if not distiller.features
        else [keras.saving.serialize_keras_object(f) for f in distiller.features],
        "teacher_feature_shapes": None
        if distiller.teacher_feature_shapes is None
        else {
            name: list(shape)
            for name, shape in distiller.teacher_feature_shapes.items()
        },
        "name": distiller.name,
    }


def constructor_arguments(config):
    """The inverse of `distiller_config`: the arguments, deserialized.

    `config` is left as it was (Keras' deserialization edits nested configs
    in place), so one config can build several Distillers.
    """
    config = copy.deepcopy(config)
    for key in _OBJECT_ARGUMENTS:
        if config.get(key) is not None:
            config[key] = keras.saving.deserialize_keras_object(config[key])
    if config.get("features"):
        config["features"] = [
            keras.saving.deserialize_keras_object(feature)
            for feature in config["features"]
        ]
    return config


def _serialize_without_compile(model):
    # The Distiller's own compile state is what matters when it is reloaded;
    # an inner model's optimizer would be rebuilt empty and warned about.
    if model is None:
        return None
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    return config


def _serialize_layer(layer):
    return None if layer is None else keras.saving.serialize_keras_object(layer)
