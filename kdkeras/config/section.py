"""The base class of every config section, and the switch of the checks
that read kdkeras' registries (`without_registry_checks`)."""

import contextlib
import contextvars

from pydantic import BaseModel, ConfigDict

_REGISTRY_CHECKS = contextvars.ContextVar("kdkeras_registry_checks", default=True)


@contextlib.contextmanager
def without_registry_checks():
    """Validation in this block skips the checks that read kdkeras'
    registries: `distill.loss` (its name and arguments), the kinds of
    `distill.features` and `teacher.preset`. Reading them imports Keras and
    TensorFlow (seconds): `validate_config` validates in here first, so that
    a config error elsewhere is reported at once."""
    token = _REGISTRY_CHECKS.set(False)
    try:
        yield
    finally:
        _REGISTRY_CHECKS.reset(token)


def registry_checks():
    """Whether validation checks names against kdkeras' registries (see
    `without_registry_checks`)."""
    return _REGISTRY_CHECKS.get()


class Section(BaseModel):
    """A config section: unknown keys are refused, assignments validated, and
    every float must be finite (`.inf` or NaN is no learning rate, width,
    fraction, budget or temperature)."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, allow_inf_nan=False
    )
