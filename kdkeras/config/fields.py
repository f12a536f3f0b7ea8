"""The value types and names the config sections share.

`PositiveInt` and `Count` are strict (`2.5` epochs is an error, not 2);
`Fraction` and `LearningRate` refuse `inf` and `nan`; the name tuples are
the values of `Literal` keys, listed in error messages.
"""

from typing import Annotated

from pydantic import Field

IMAGE_DATA_SETS = ("embedded_fashion_mnist", "fashion_mnist", "mnist")
"""Image data sets `data.source` names, loaded by `kdkeras.datasets`."""

TEXT_DATA_SETS = ("embedded_spam_assassin", "spam_assassin")
"""Text data sets `data.source` names: the SpamAssassin e-mails, the 300
inside the package or the whole corpus (`kdkeras.datasets.spam_assassin`)."""

NAMED_DATA_SETS = (*IMAGE_DATA_SETS, *TEXT_DATA_SETS)
"""Data sets `data.source` names, loaded by `kdkeras.datasets`."""

TEXT_SOURCES = (*TEXT_DATA_SETS, "text_folder")
"""The values of `data.source` whose examples are texts: the named sets, and
a folder of `.txt` files per class."""

DATA_SOURCES = (*NAMED_DATA_SETS, "npz", "image_folder", "text_folder")
"""Every value of `data.source`."""

QUANTIZATION_NAMES = ("float32", "float16", "dynamic_range", "int8")
"""The LiteRT variants of `export.quantizations` (`kdkeras.export.QUANTIZATIONS`)."""

STUDENT_PRESETS = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large")
"""`keras.applications` students: the presets with a width multiplier."""

IMAGE_STUDENTS = ("cnn", "mlp", *STUDENT_PRESETS)
"""The students of images (`kdkeras.models.build_student`)."""

TEXT_STUDENTS = ("embedding_bag", "text_cnn")
"""The students of token ids (`kdkeras.text`)."""

AUTO_STUDENT = "auto"
"""`student.architecture` that lets the run choose the student: the largest
candidate that fits `student.budget` (`kdkeras.pipeline.student_choice`)."""

PositiveInt = Annotated[int, Field(strict=True, gt=0)]
Count = Annotated[int, Field(strict=True, ge=0)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0)]
LearningRate = Annotated[float, Field(gt=0.0)]
ImageSide = Annotated[int, Field(strict=True, gt=0, le=4096)]
"""An image's height or width in pixels: 4,096 at most (a student's input)."""
ImageSize = tuple[ImageSide, ImageSide]
BatchSize = Annotated[int, Field(strict=True, gt=0, le=65_536)]
"""Examples per batch: 65,536 at most."""
Seed = Annotated[int, Field(strict=True, ge=0, lt=2**32)]
"""A random seed, as NumPy and TensorFlow take it: 0 to 2³² − 1."""
WidthMultiplier = Annotated[float, Field(gt=0.0, le=16.0)]
"""A model's width multiplier: above 0, 16 at most."""
