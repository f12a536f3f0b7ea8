import keras
import pytest

from kdkeras import losses
from kdkeras.losses import registry


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made by a test end with it."""
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))


LOGIT_LOSSES = [
    "dist",
    "dkd",
    "hard_pseudo_label",
    "kd",
    "kd_standardized",
    "logit_mse",
    "soft_target_cross_entropy",
]

FEATURE_METHODS = ["attention_transfer", "crd", "hint", "pkt", "rkd"]


def test_builtin_names():
    assert losses.registered_names("logits") == LOGIT_LOSSES
    assert losses.registered_names("features") == FEATURE_METHODS
    assert losses.registered_names() == sorted([*LOGIT_LOSSES, *FEATURE_METHODS])


def test_the_registry_lists_each_method_with_its_kind():
    assert losses.registered_kinds() == {
        "attention_transfer": "features",
        "crd": "features",
        "dist": "logits",
        "dkd": "logits",
        "hard_pseudo_label": "logits",
        "hint": "features",
        "kd": "logits",
        "kd_standardized": "logits",
        "logit_mse": "logits",
        "pkt": "features",
        "rkd": "features",
        "soft_target_cross_entropy": "logits",
    }
    assert losses.registered_class("hint") is losses.Hint
    assert losses.method_kind(losses.KDLoss()) == "logits"
    # A plain Keras loss has no kind: it compares logits (or probabilities).
    assert losses.method_kind(keras.losses.KLDivergence()) == "logits"
    with pytest.raises(ValueError, match=r"`kind` must be one of \['logits', "):
        losses.registered_names("pixels")


def test_get_by_name_with_arguments():
    loss = losses.get("kd", temperature=5.0)
    assert isinstance(loss, losses.KDLoss) and loss.temperature == 5.0
    assert isinstance(losses.get("logit_mse"), losses.LogitMSE)


def test_get_by_config_and_instance():
    loss = losses.SoftTargetCrossEntropy(temperature=2.0)
    assert losses.get(loss) is loss
    rebuilt = losses.get(keras.saving.serialize_keras_object(loss))
    assert isinstance(rebuilt, losses.SoftTargetCrossEntropy)
    assert rebuilt.temperature == 2.0


def test_get_a_feature_method_by_name():
    attention = losses.get(
        "attention_transfer", teacher_layer="t_block2", student_layer="s_conv1"
    )
    assert isinstance(attention, losses.AttentionTransfer)
    assert (attention.teacher_layer, attention.student_layer) == ("t_block2", "s_conv1")
    assert (attention.weight, attention.p) == (500.0, 2)
    hint = losses.get("hint", teacher_layer="t", student_layer="s", weight=0.5)
    assert isinstance(hint, losses.Hint) and hint.weight == 0.5


def test_get_a_feature_method_by_config_and_instance():
    attention = losses.AttentionTransfer("t", "s", weight=10.0, p=4, name="at")
    assert losses.get(attention) is attention
    config = keras.saving.serialize_keras_object(attention)
    assert config["registered_name"] == "kdkeras>AttentionTransfer"
    rebuilt = losses.get(config)
    assert isinstance(rebuilt, losses.AttentionTransfer)
    assert rebuilt.get_config() == attention.get_config()
    hint = losses.get(keras.saving.serialize_keras_object(losses.Hint("t", "s")))
    assert isinstance(hint, losses.Hint)
    assert (hint.teacher_layer, hint.student_layer, hint.weight) == ("t", "s", 1.0)


def test_a_config_of_something_else_is_refused():
    config = keras.saving.serialize_keras_object(keras.layers.Dense(2))
    with pytest.raises(ValueError, match="does not describe a Keras loss"):
        losses.get(config)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Expected one of \[.*'kd'.*identifier='kl'"):
        losses.get("kl")


def test_wrong_type_is_refused():
    with pytest.raises(TypeError, match="identifier=3"):
        losses.get(3)


def test_register_custom_loss_and_refuse_duplicates(scratch_registry):
    @losses.register_distillation_loss("test_cosine")
    class CosineLoss(losses.DistillationLoss):
        def call(self, y_true, y_pred):
            return keras.losses.cosine_similarity(y_true, y_pred)

    assert "test_cosine" in losses.registered_names()
    assert isinstance(losses.get("test_cosine"), CosineLoss)
    assert losses.registered_kinds()["test_cosine"] == "logits"
    with pytest.raises(ValueError, match="already registered"):
        losses.register_distillation_loss("test_cosine")(CosineLoss)


def test_a_registered_feature_method_keeps_its_kind(scratch_registry):
    @losses.register_distillation_loss("test_gram")
    class Gram(losses.FeatureDistillation):
        def loss(self, teacher_features, student_features):
            return keras.ops.mean(keras.ops.square(student_features), axis=-1)

    assert "test_gram" in losses.registered_names("features")
    method = losses.get("test_gram", teacher_layer="t", student_layer="s")
    assert isinstance(method, Gram) and losses.method_kind(method) == "features"


def test_an_unknown_kind_is_refused(scratch_registry):
    class Odd(losses.DistillationLoss):
        kind = "pixels"

    with pytest.raises(ValueError, match=r"`kind` must be one of .*Odd.kind='pixels'"):
        losses.register_distillation_loss("test_odd")(Odd)
    assert "test_odd" not in losses.registered_names()
