"""Exporting models for phones and edge devices (LiteRT, formerly TFLite)."""

from kdkeras.export.converter import QUANTIZATIONS, export_litert
from kdkeras.export.errors import ExportError
from kdkeras.export.metadata import (
    ModelMetadata,
    describe_preprocessing,
    read_input_quantization,
    read_io_details,
)
from kdkeras.export.package import load_device_metadata, save_for_device
