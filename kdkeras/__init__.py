"""kdkeras: knowledge distillation for Keras 3."""

from kdkeras import (
    datasets,
    distillation,
    evaluation,
    export,
    layers,
    litert,
    losses,
    models,
    optimize,
)
from kdkeras.distillation import (
    Distiller,
    NonFiniteLossError,
    RaiseOnNonFiniteLoss,
    offline,
    probabilities_to_logits,
)
from kdkeras.evaluation import report, sparsity
from kdkeras.models import transfer
from kdkeras.version import __version__
