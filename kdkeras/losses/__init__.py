"""Distillation methods: pure functions over logits (and over feature maps,
`feature_losses`), their Keras classes, and the one registry of them all
(`get`, `register_distillation_loss`; kinds `"logits"` and `"features"`)."""

from kdkeras.losses.contrastive_losses import crd_loss
from kdkeras.losses.contrastive_methods import ContrastiveRepresentation
from kdkeras.losses.correlation import dist_loss
from kdkeras.losses.feature_methods import (
    AttentionTransfer,
    FeatureDistillation,
    Hint,
)
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
    DISTLoss,
    DKDLoss,
    FunctionLoss,
    HardPseudoLabelCrossEntropy,
    KDLoss,
    LabelCrossEntropy,
    LogitMSE,
    SoftTargetCrossEntropy,
    StandardizedKDLoss,
)
from kdkeras.losses.registry import (
    get,
    method_kind,
    register_distillation_loss,
    registered_class,
    registered_kinds,
    registered_names,
)
from kdkeras.losses.relational_losses import pkt_loss, rkd_loss
from kdkeras.losses.relational_methods import ProbabilisticKT, RelationalKD
