"""Tests of kdkeras/distillation/serialization.py: the Distiller's config."""

import keras

from kdkeras.distillation import AttentionTransfer, Distiller, serialization


def _model(name, filters):
    inputs = keras.Input((8, 8, 1))
    features = keras.layers.Conv2D(filters, 3, padding="same", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.Model(inputs, keras.layers.Dense(3)(pooled), name=name)


def test_config_round_trips_models_views_and_features():
    teacher = _model("teacher", 4)
    teacher.compile(optimizer="sgd", loss="mse")  # not stored with the Distiller
    distiller = Distiller(
        teacher,
        _model("student", 2),
        student_view=keras.layers.Rescaling(0.5, name="half"),
        features=[AttentionTransfer("conv", "conv", weight=10.0)],
    )
    config = serialization.distiller_config(distiller)
    assert "compile_config" not in config["teacher"]
    assert config["teacher_view"] is None and config["augmentation"] is None

    arguments = serialization.constructor_arguments(config)
    assert arguments["teacher"].name == "teacher"
    assert arguments["student"].count_params() == distiller.student.count_params()
    assert arguments["student_view"].get_config()["scale"] == 0.5
    (feature,) = arguments["features"]
    assert isinstance(feature, AttentionTransfer)
    assert (feature.teacher_layer, feature.student_layer, feature.weight) == (
        "conv",
        "conv",
        10.0,
    )
    rebuilt = Distiller.from_config(config)
    assert rebuilt.get_config()["features"] == config["features"]
