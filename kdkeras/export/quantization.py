"""How a model is quantized into a LiteRT file, as one value: `Quantization`.

Every export function (`export_litert`, `save_for_device`, `add_variant`,
`DeploymentCheck`, `choose_student`) takes its quantization as a
`Quantization`, or as the name of a scheme such as `"int8"` for the
defaults; `as_quantization` turns one into the other, and the options are
checked once, when the value is made:

```python
int8 = Quantization("int8", integer_io=True, num_calibration_examples=500)
int8                          # Quantization('int8', num_calibration_examples=500,
                              #              integer_io=True)
str(int8)                     # 'int8': the file name and metadata key
kdkeras.export.export_litert(
    student, "student_int8.tflite", int8, representative_data=x_train
)
```

The model inputs int8 calibrates on (`representative_data`) are data, not
an option: they stay an argument of the export functions.
"""

import dataclasses

import numpy as np

from kdkeras.validation import check_positive_int

QUANTIZATIONS = ("float32", "float16", "dynamic_range", "int8")
"""The quantization schemes of a LiteRT file, from the largest file down."""

DEFAULT_CALIBRATION_EXAMPLES = 200
"""How many examples of `representative_data` int8 calibrates on by default."""


@dataclasses.dataclass(frozen=True)
class Quantization:
    """How a Keras model is quantized into a LiteRT file: an immutable value.

    Args:
        scheme: `"float32"` (no quantization), `"float16"` (weights in
            float16, half the size), `"dynamic_range"` (int8 weights, float
            activations, a quarter of the size) or `"int8"` (full integer
            quantization of weights and activations, for NPUs and
            microcontrollers; calibrates on `representative_data`).
        num_calibration_examples: How many examples of `representative_data`
            int8 calibrates on, a positive integer.
        integer_io: With `"int8"`, whether the model's input and output are
            int8 too (see `kdkeras.export.read_input_quantization`); if
            `False` they stay float32 and are quantized inside the model.
        quantization_aware: Whether the model was trained with fake
            quantization (`kdkeras.optimize.quantize_aware`), so that int8
            keeps the ranges it learned; `representative_data` is then needed
            only with `integer_io=True`. Requires `"int8"`.

    Raises:
        ValueError: If `scheme` is not one of `QUANTIZATIONS`, or an option
            does not apply to it.
    """

    scheme: str = "float32"
    num_calibration_examples: int = DEFAULT_CALIBRATION_EXAMPLES
    integer_io: bool = False
    quantization_aware: bool = False

    def __post_init__(self):
        if not isinstance(self.scheme, str) or self.scheme not in QUANTIZATIONS:
            raise ValueError(
                f"`scheme` must be one of {QUANTIZATIONS}. "
                f"Received: scheme={self.scheme!r}"
            )
        count = check_positive_int(
            self.num_calibration_examples, "num_calibration_examples"
        )
        object.__setattr__(self, "num_calibration_examples", int(count))
        for option in ("integer_io", "quantization_aware"):
            value = getattr(self, option)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(
                    f"`{option}` must be True or False. Received: {option}={value!r}"
                )
            object.__setattr__(self, option, bool(value))
            if value and self.scheme != "int8":
                raise ValueError(
                    f"`{option}=True` requires quantization='int8'. "
                    f"Received: quantization={self.scheme!r}"
                )

    def __str__(self):
        return self.scheme

    def __repr__(self):
        options = [repr(self.scheme)]
        for field in dataclasses.fields(self)[1:]:
            value = getattr(self, field.name)
            if value != field.default:
                options.append(f"{field.name}={value!r}")
        return f"Quantization({', '.join(options)})"

    @property
    def calibrated(self):
        """Whether the converter calibrates on `representative_data`: int8,
        unless a quantization-aware model's learned ranges suffice (they do
        but for int8 input and output tensors)."""
        return self.scheme == "int8" and (
            self.integer_io or not self.quantization_aware
        )

    def check_representative_data(self, representative_data):
        """Raises `ValueError` if calibration needs `representative_data`
        and it is `None`."""
        if not self.calibrated or representative_data is not None:
            return
        if self.integer_io:
            raise ValueError(
                "`representative_data` is required with `integer_io=True`: the "
                "LiteRT converter needs model inputs for int8 input and output "
                "tensors. Received: representative_data=None"
            )
        raise ValueError(
            "`representative_data` is required for quantization='int8': int8 "
            "quantization calibrates on model inputs such as training images. "
            "Received: representative_data=None"
        )


def as_quantization(value, argument_name="quantization", scheme=None):
    """`value` as a `Quantization`: the one place a scheme's name becomes one.

    Args:
        value: A `Quantization`, or one of `QUANTIZATIONS` for its defaults.
        argument_name: The argument named in errors.
        scheme: The scheme `value` must have, or `None` for any.

    Raises:
        ValueError: If `value` is neither, or not of `scheme`.
    """
    expected = (
        f"`{argument_name}` must be one of {QUANTIZATIONS} or a "
        "kdkeras.export.Quantization."
    )
    if isinstance(value, str):
        if value not in QUANTIZATIONS:
            raise ValueError(f"{expected} Received: {argument_name}={value!r}")
        value = Quantization(value)
    elif not isinstance(value, Quantization):
        raise ValueError(
            f"{expected} Received: {argument_name} of type {type(value).__name__}"
        )
    if scheme is not None and value.scheme != scheme:
        raise ValueError(
            f"`{argument_name}` must be an {scheme!r} quantization. "
            f"Received: {argument_name}={value!r}"
        )
    return value
