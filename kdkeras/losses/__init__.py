"""Distillation losses: pure functions over logits and their Keras classes."""

from kdkeras.losses.functional import (
    dkd_loss,
    hard_pseudo_label_cross_entropy,
    kd_loss,
    label_cross_entropy,
    logit_mse,
    soft_target_cross_entropy,
    standardize_logits,
    standardized_kd_loss,
)
from kdkeras.losses.losses import (
    DistillationLoss,
    DKDLoss,
    FunctionLoss,
    HardPseudoLabelCrossEntropy,
    KDLoss,
    LabelCrossEntropy,
    LogitMSE,
    SoftTargetCrossEntropy,
    StandardizedKDLoss,
)
from kdkeras.losses.registry import get, register_distillation_loss, registered_names
