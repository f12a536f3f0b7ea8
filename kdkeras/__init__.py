"""kdkeras: knowledge distillation for Keras 3."""

from kdkeras import (
    datasets,
    evaluation,
    export,
    layers,
    litert,
    losses,
    models,
    offline,
    optimize,
    report,
    sparsity,
    transfer,
)
from kdkeras.callbacks import NonFiniteLossError, RaiseOnNonFiniteLoss
from kdkeras.distiller import Distiller
from kdkeras.model_outputs import probabilities_to_logits
from kdkeras.version import __version__
