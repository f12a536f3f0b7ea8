"""Config errors that name the key path, the expectation and the received value.

pydantic's own messages say `Extra inputs are not permitted` for a misspelt
key and locate errors as tuples; `ConfigError` turns them into one line per
problem, such as

```
distill.alpha: Input should be less than or equal to 1 (received: 1.5)
distill.alpah: unknown key (received: 0.5). Valid keys: alpha, batch_size, …;
    did you mean 'alpha'?
```
"""

import difflib
import types
import typing

import pydantic


class ConfigError(ValueError):
    """A config file, or a `--set` override, that cannot run.

    Attributes:
        problems: One line per problem, each starting with the key path.
        source: Where the config came from (a path), or `None`.
    """

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(
            f"Invalid config{where}:\n" + "\n".join(f"  {p}" for p in self.problems)
        )


class InvalidValue(ValueError):
    """Raised by a validator that checks several keys: names the one at fault.

    pydantic locates a model validator's error at the section; the formatter
    appends `location` to it and shows `received` instead of the section.
    """

    def __init__(self, location, expectation, received):
        super().__init__(expectation)
        self.location = tuple(location)
        self.received = received


def key_path(location):
    """`("distill", "alpha")` → `"distill.alpha"`; list indices as `[i]`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "(top level)"


def from_validation_error(error, schema, source=None):
    """A `ConfigError` with one line per error of a pydantic `ValidationError`.

    Args:
        error: The `pydantic.ValidationError` of `schema.model_validate`.
        schema: The root model class, to list the valid keys of a section.
        source: Where the config came from, for the message.
    """
    problems = []
    for detail in error.errors(include_url=False):
        location = _without_union_tags(detail["loc"])
        path = key_path(location)
        received = _short_repr(detail.get("input"))
        if detail["type"] == "extra_forbidden":
            problems.append(
                f"{path}: unknown key (received: {received}). "
                + _valid_keys_hint(schema, location)
            )
        elif detail["type"] == "missing":
            problems.append(f"{path}: required key is missing")
        elif detail["type"] == "finite_number":
            problems.append(f"{path}: expected a finite number (received: {received})")
        else:
            cause = detail.get("ctx", {}).get("error")
            if isinstance(cause, InvalidValue):
                path = key_path(location + cause.location)
                received = _short_repr(cause.received)
            message = detail["msg"].removeprefix("Value error, ")
            if isinstance(cause, InvalidValue):
                message = f"expected {message}"
            problems.append(f"{path}: {message} (received: {received})")
    return ConfigError(problems, source)


def _without_union_tags(location):
    """pydantic adds the member's type to locations inside a union
    (`("data", "image_size", "tuple[int, int]", 0)`); users never wrote it."""
    return tuple(
        part
        for part in location
        if not (isinstance(part, str) and ("[" in part or part in _TYPE_TAGS))
    )


_TYPE_TAGS = {"int", "float", "str", "bool", "none", "list", "tuple", "dict"}


def _short_repr(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _valid_keys_hint(schema, location):
    """`Valid keys: …; did you mean '…'?` for an unknown key at `location`."""
    section = section_model(schema, location[:-1])
    if section is None:
        return ""
    valid_keys = sorted(section.model_fields)
    hint = "Valid keys: " + ", ".join(valid_keys)
    matches = difflib.get_close_matches(str(location[-1]), valid_keys, n=1)
    if matches:
        hint += f"; did you mean {matches[0]!r}?"
    return hint


def section_model(schema, location):
    """The pydantic model class at `location` under `schema`, or `None`."""
    model = schema
    for part in location:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        model = _model_class(field.annotation)
        if model is None:
            return None
    return model


def _model_class(annotation):
    """The `BaseModel` subclass in `annotation` (`X`, `X | None`, or either
    inside `Annotated`, e.g. a number-or-schedule), or `None`."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    if typing.get_origin(annotation) is typing.Annotated:
        return _model_class(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            model = _model_class(member)
            if model is not None:
                return model
    return None
