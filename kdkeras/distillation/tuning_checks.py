"""The argument checks of `choose_distillation_settings`
(`kdkeras.distillation.tuning`): the validation data, and each candidate's
`alpha` and temperature, refused with the argument's name before any student
trains."""

from kdkeras import batches
from kdkeras.validation import check_number


def checked_validation(validation):
    if batches.is_dataset(validation):
        return validation
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise ValueError(
            "`validation` must be `(x_val, y_val)` arrays or a batched dataset "
            f"of `(x, y)`. Received: {type(validation).__name__}"
        )
    if len(validation[0]) == 0 or len(validation[0]) != len(validation[1]):
        raise ValueError(
            "`validation` must hold examples and one label per example. "
            f"Received: {len(validation[0])} examples, {len(validation[1])} labels"
        )
    return tuple(validation)


def check_alpha(alpha, name):
    if alpha is not None:
        check_number(alpha, name, 0.0, 1.0)


def check_temperature(temperature, name, uses_temperature):
    if temperature is None:
        return
    if not uses_temperature:
        raise ValueError(
            f"`{name}` must be None: the loss takes no temperature. Received: "
            f"{name}={temperature!r}"
        )
    check_number(temperature, name, 0.0, include_low=False)


def checked_candidates(candidates, uses_temperature):
    if not isinstance(candidates, (list, tuple)) or not candidates:
        raise ValueError(
            "`candidates` must be a non-empty list of "
            f"{{'alpha': …, 'temperature': …}} dicts. Received: {candidates!r}"
        )
    checked = []
    for index, candidate in enumerate(candidates):
        name = f"candidates[{index}]"
        if not isinstance(candidate, dict) or set(candidate) - {"alpha", "temperature"}:
            raise ValueError(
                f"`{name}` must be a dict with `alpha` and `temperature`. "
                f"Received: {candidate!r}"
            )
        if "alpha" not in candidate:
            raise ValueError(f"`{name}` must have an `alpha`. Received: {candidate!r}")
        check_alpha(candidate["alpha"], f"{name}['alpha']")
        temperature = candidate.get("temperature")
        check_temperature(temperature, f"{name}['temperature']", uses_temperature)
        checked.append(
            {
                "alpha": float(candidate["alpha"]),
                "temperature": None if temperature is None else float(temperature),
            }
        )
    if len({tuple(c.values()) for c in checked}) != len(checked):
        raise ValueError(f"`candidates` must be distinct. Received: {candidates!r}")
    return checked
