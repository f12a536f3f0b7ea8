"""Distillation: the `Distiller`, its objective and schedules, feature
methods, teacher ensembles, the `auto` settings and the callbacks `fit` adds.

Stored teacher outputs (offline distillation) are `kdkeras.caches`;
replayable augmentation is `kdkeras.augmentation`.
"""

from kdkeras.distillation import schedules
from kdkeras.distillation.callbacks import NonFiniteLossError, RaiseOnNonFiniteLoss
from kdkeras.distillation.diagnostics import soft_target_statistics
from kdkeras.distillation.distiller import Distiller
from kdkeras.distillation.example_index import with_example_index
from kdkeras.distillation.features import AttentionTransfer, FeatureDistillation, Hint
from kdkeras.distillation.objective import DistillationObjective
from kdkeras.distillation.outputs import probabilities_to_logits
from kdkeras.distillation.teachers import TeacherEnsemble, average_teacher_logits
from kdkeras.distillation.tuning import (
    DistillationSettings,
    choose_distillation_settings,
)
