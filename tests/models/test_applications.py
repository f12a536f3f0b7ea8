import keras
import numpy as np
import pytest

from kdkeras.distillation.outputs import ends_in_softmax
from kdkeras.models import applications
from kdkeras.models.presets import BACKBONE_PRESETS, get_preset


@pytest.mark.parametrize("preset_name", sorted(BACKBONE_PRESETS))
def test_every_preset_builds_at_its_minimum_size(preset_name):
    preset = get_preset(preset_name)
    size = preset.min_size
    teacher = applications.build_teacher(
        preset_name, num_classes=7, input_shape=(size, size, 3), weights=None
    )
    assert teacher.output.shape == (None, 7)
    assert ends_in_softmax(teacher) is False
    images = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3))
    # Called eagerly: predict() would trace a graph of the whole backbone.
    logits = keras.ops.convert_to_numpy(
        teacher(preset.preprocess_input(images), training=False)
    )
    assert logits.shape == (2, 7) and np.isfinite(logits).all()


def test_offline_imagenet_weights_give_a_clear_error(monkeypatch):
    def offline_fetch(*args, **kwargs):
        raise Exception("URL fetch failure on https://example: Name not known")

    monkeypatch.setattr(keras.utils, "get_file", offline_fetch)
    monkeypatch.setattr(
        "keras.src.applications.mobilenet_v2.file_utils.get_file", offline_fetch
    )
    with pytest.raises(
        applications.PretrainedWeightsUnavailableError, match="pass its path"
    ):
        applications.build_teacher("mobilenet_v2", 3, (32, 32, 3))


@pytest.mark.parametrize("saved", ["classifier", "backbone"])
def test_weights_from_a_local_weights_file(tmp_path, saved):
    teacher = applications.build_teacher("mobilenet_v2", 4, (32, 32, 3), weights=None)
    source = teacher if saved == "classifier" else teacher.get_layer("backbone")
    path = str(tmp_path / f"{saved}.weights.h5")
    source.save_weights(path)
    rebuilt = applications.build_teacher("mobilenet_v2", 4, (32, 32, 3), weights=path)
    images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3))
    for layer_name in ("backbone",):
        np.testing.assert_allclose(
            rebuilt.get_layer(layer_name)(images),
            teacher.get_layer(layer_name)(images),
            atol=1e-6,
        )
    if saved == "classifier":
        np.testing.assert_allclose(rebuilt(images), teacher(images), atol=1e-6)


def test_legacy_h5_backbone_weights(tmp_path):
    backbone = applications.build_backbone("mobilenet_v2", (32, 32, 3))
    path = str(tmp_path / "backbone_notop.h5")
    backbone.save(path)  # the legacy HDF5 format keras.applications downloads
    rebuilt = applications.build_backbone("mobilenet_v2", (32, 32, 3), weights=path)
    images = np.random.default_rng(2).uniform(-1, 1, (2, 32, 32, 3))
    np.testing.assert_allclose(rebuilt(images), backbone(images), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="Expected one of .*name='vgg'"):
        applications.build_teacher("vgg", 3, weights=None)
    with pytest.raises(ValueError, match=r"≥ 71. Received: input_shape=\(32, 32, 3\)"):
        applications.build_teacher("xception", 3, (32, 32, 3), weights=None)
    with pytest.raises(ValueError, match="num_classes=0"):
        applications.build_teacher("mobilenet_v2", 0, (32, 32, 3), weights=None)
    with pytest.raises(FileNotFoundError, match="weights='/nonexistent.h5'"):
        applications.build_teacher(
            "mobilenet_v2", 3, (32, 32, 3), weights="/nonexistent.h5"
        )
    with pytest.raises(ValueError, match="no width multiplier"):
        applications.build_backbone("resnet50", (32, 32, 3), width=0.5)


def test_width_scaled_students_are_smaller():
    full = applications.build_student("mobilenet_v3_small", 10, (32, 32, 3), width=1.0)
    half = applications.build_student("mobilenet_v3_small", 10, (32, 32, 3), width=0.5)
    assert half.count_params() < full.count_params()
    assert half.output.shape == (None, 10) and not ends_in_softmax(half)
    v2 = applications.build_student("mobilenet_v2", 10, (32, 32, 3), width=0.35)
    assert v2.output.shape == (None, 10)


def test_width_scaled_teacher_loads_backbone_weights(tmp_path):
    # The demo's teacher: a width-0.35 MobileNetV2 from saved backbone weights.
    source = applications.build_teacher(
        "mobilenet_v2", 10, (32, 32, 3), weights=None, width=0.35
    )
    path = str(tmp_path / "backbone.weights.h5")
    source.get_layer("backbone").save_weights(path)
    teacher = applications.build_teacher(
        "mobilenet_v2", 10, (32, 32, 3), weights=path, width=0.35
    )
    default_width = applications.build_teacher(
        "mobilenet_v2", 10, (32, 32, 3), weights=None
    )
    assert teacher.count_params() < default_width.count_params()
    for loaded, saved in zip(
        teacher.get_layer("backbone").weights,
        source.get_layer("backbone").weights,
        strict=True,
    ):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())


def test_small_cnn_and_mlp_students():
    cnn = applications.build_student("cnn", 10, (28, 28, 1), filters=(4, 8))
    mlp = applications.build_student("mlp", 10, (28, 28, 1), hidden_units=(16,))
    assert cnn.output.shape == mlp.output.shape == (None, 10)
    with pytest.raises(TypeError, match="Unexpected arguments"):
        applications.build_student("mobilenet_v2", 10, (32, 32, 3), filters=(4,))
