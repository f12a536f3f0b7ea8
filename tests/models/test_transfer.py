import keras
import numpy as np
import pytest

from kdkeras import transfer
from kdkeras.models import walk_layers
from kdkeras.models.applications import build_teacher


def _snapshot(model):
    backbone = model.get_layer("backbone")
    layers = [*walk_layers(backbone), model.get_layer("logits")]
    return {
        (layer.name, index): weight.numpy().copy()
        for layer in layers
        if not isinstance(layer, keras.Model)
        for index, weight in enumerate(layer.weights)
    }


def _changed(before, after):
    return {key[0] for key in before if not np.array_equal(before[key], after[key])}


@pytest.fixture
def teacher_and_data():
    keras.utils.set_random_seed(0)
    teacher = build_teacher("mobilenet_v2", 3, (32, 32, 3), weights=None, dropout=0.0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, 16)
    return teacher, (x, y)


def test_stage_one_trains_only_the_head(teacher_and_data):
    teacher, data = teacher_and_data
    before = _snapshot(teacher)
    transfer.fine_tune(
        teacher, data, head_epochs=1, fine_tune_epochs=0, batch_size=8, verbose=0
    )
    assert _changed(before, _snapshot(teacher)) == {"logits"}


def test_stage_two_trains_the_top_and_keeps_batch_norm_frozen(teacher_and_data):
    teacher, data = teacher_and_data
    transfer.freeze_backbone(teacher)
    unfrozen = transfer.unfreeze_top(teacher, num_layers=4)
    backbone_layers = {
        layer.name: layer for layer in walk_layers(teacher.get_layer("backbone"))
    }
    assert unfrozen and all(
        not isinstance(backbone_layers[name], keras.layers.BatchNormalization)
        for name in unfrozen
    )
    before = _snapshot(teacher)
    transfer.fine_tune(
        teacher,
        data,
        head_epochs=0,
        fine_tune_epochs=1,
        fine_tune_learning_rate=1e-2,
        num_unfrozen_layers=4,
        batch_size=8,
        verbose=0,
    )
    changed = _changed(before, _snapshot(teacher))
    assert changed == set(unfrozen) | {"logits"}
    batch_norms = [
        name
        for name, layer in backbone_layers.items()
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert batch_norms and not changed & set(batch_norms)


def test_unfreezing_everything_still_freezes_batch_norm(teacher_and_data):
    teacher, _ = teacher_and_data
    unfrozen = transfer.unfreeze_top(teacher)
    layers = walk_layers(teacher.get_layer("backbone"))
    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert not layer.trainable
        elif layer.weights and not isinstance(layer, keras.Model):
            assert layer.name in unfrozen


def test_errors(teacher_and_data):
    teacher, _ = teacher_and_data
    with pytest.raises(ValueError, match="no layer named 'trunk'"):
        transfer.freeze_backbone(teacher, backbone_name="trunk")
    with pytest.raises(ValueError, match="num_layers=-1"):
        transfer.unfreeze_top(teacher, num_layers=-1)


def test_batch_norm_can_train_for_a_backbone_from_scratch(teacher_and_data):
    teacher, _ = teacher_and_data
    transfer.unfreeze_top(teacher, freeze_batch_norm=False)
    layers = walk_layers(teacher.get_layer("backbone"))
    assert all(
        layer.trainable
        for layer in layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )


def test_set_batch_norm_momentum_reaches_nested_layers():
    teacher = build_teacher("mobilenet_v2", 10, (32, 32, 3), weights=None, width=0.35)
    batch_norms = [
        layer
        for layer in teacher.get_layer("backbone").layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert {layer.momentum for layer in batch_norms} == {0.999}
    assert transfer.set_batch_norm_momentum(teacher, 0.9) == len(batch_norms) > 0
    assert {layer.momentum for layer in batch_norms} == {0.9}
    with pytest.raises(ValueError, match="`momentum` must be in"):
        transfer.set_batch_norm_momentum(teacher, 1.0)
