import keras
import pytest

from kdkeras import losses


def test_builtin_names():
    assert losses.registered_names() == [
        "dkd",
        "hard_pseudo_label",
        "kd",
        "kd_standardized",
        "logit_mse",
        "soft_target_cross_entropy",
    ]


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


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Expected one of \[.*'kd'.*identifier='kl'"):
        losses.get("kl")


def test_wrong_type_is_refused():
    with pytest.raises(TypeError, match="identifier=3"):
        losses.get(3)


def test_register_custom_loss_and_refuse_duplicates():
    @losses.register_distillation_loss("test_cosine")
    class CosineLoss(losses.DistillationLoss):
        def call(self, y_true, y_pred):
            return keras.losses.cosine_similarity(y_true, y_pred)

    assert "test_cosine" in losses.registered_names()
    assert isinstance(losses.get("test_cosine"), CosineLoss)
    with pytest.raises(ValueError, match="already registered"):
        losses.register_distillation_loss("test_cosine")(CosineLoss)
