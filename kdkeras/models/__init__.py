"""Ready-made classifiers that output logits, to use as teachers and students."""

from kdkeras.models import transfer
from kdkeras.models.applications import (
    PretrainedWeightsUnavailableError,
    build_backbone,
    build_student,
    build_teacher,
)
from kdkeras.models.cnn import build_cnn, build_mlp
from kdkeras.models.layer_walk import walk_layers
from kdkeras.models.presets import BACKBONE_PRESETS, BackbonePreset, get_preset
