"""Exporting models for phones and edge devices (LiteRT, formerly TFLite).

The only door from a model to a device: every `.tflite` file and device
package kdkeras writes goes through `export_litert`, `save_for_device` or
`add_variant`, quantized as a `Quantization` says. `DeploymentCheck`
exports the student the same way while it trains, to log its int8 numbers;
`choose_student` measures untrained candidate students as int8 files
(temporary, never shipped) to pick the largest that fits a size and latency
budget.
"""

from kdkeras.export.budget import NoStudentFitsError, StudentChoice, choose_student
from kdkeras.export.converter import export_litert
from kdkeras.export.converter_errors import ExportError
from kdkeras.export.deployment_check import DeploymentCheck
from kdkeras.export.device_description import device_model
from kdkeras.export.metadata import (
    ModelMetadata,
    describe_preprocessing,
    read_input_quantization,
    read_io_details,
)
from kdkeras.export.package import save_for_device
from kdkeras.export.package_files import load_device_metadata
from kdkeras.export.quantization import (
    DEFAULT_CALIBRATION_EXAMPLES,
    QUANTIZATIONS,
    Quantization,
    as_quantization,
)
from kdkeras.export.student_candidates import (
    IMAGE_CANDIDATES,
    TEXT_CANDIDATES,
    StudentCandidate,
)
from kdkeras.export.variants import add_variant
