"""Distillation: the `Distiller`, its objective, offline logit caches, output
kinds and the callbacks `fit` adds."""

from kdkeras.distillation import (
    diagnostics,
    offline,
    outputs,
    schedules,
    sharded_cache,
    sharded_views,
    topk,
    tuning,
    view_cache,
    views,
)
from kdkeras.distillation.callbacks import NonFiniteLossError, RaiseOnNonFiniteLoss
from kdkeras.distillation.distiller import Distiller
from kdkeras.distillation.features import AttentionTransfer, FeatureDistillation, Hint
from kdkeras.distillation.objective import DistillationObjective
from kdkeras.distillation.outputs import probabilities_to_logits
from kdkeras.distillation.teachers import TeacherEnsemble, average_teacher_logits
from kdkeras.distillation.tuning import (
    DistillationSettings,
    choose_distillation_settings,
)
