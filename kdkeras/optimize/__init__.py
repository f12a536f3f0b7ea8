"""Quantization-aware training and pruning of Keras 3 students with tfmot.

tensorflow-model-optimization only takes Keras 2 (`tf_keras`) models, so the
student is rebuilt in `tf_keras` (`bridge.to_tf_keras`), optimized with the
teacher still in the loop, and brought back (`bridge.to_keras3`) or exported
to LiteRT through `kdkeras.export` (`save_qat_for_device`). `tf_keras` and
tfmot are imported only when one of these functions runs.
"""

from kdkeras.optimize.bridge import (
    BridgeMismatchError,
    UnsupportedLayerError,
    check_same_outputs,
    to_keras3,
    to_tf_keras,
)
from kdkeras.optimize.device import QAT_VARIANT, save_qat_for_device
from kdkeras.optimize.pruning import (
    PruneResult,
    gzipped_size_bytes,
    prune,
    pruning_schedule_steps,
    sparsity_report,
)
from kdkeras.optimize.qat import (
    QATResult,
    UnsupportedQuantizationError,
    quantize_aware,
)
