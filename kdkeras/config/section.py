"""The base class of every config section."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section: unknown keys are refused, assignments validated, and
    every float must be finite (`.inf` or NaN is no learning rate, width,
    fraction, budget or temperature)."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, allow_inf_nan=False
    )
