"""Reading, overriding, validating and writing `kdkeras run` configs.

```python
config = load_config("examples/configs/demo.yaml", ["distill.alpha=0.5"])
write_config(config, "runs/demo-20261130-120000/config.yaml")
```

Input paths in a config (data, weights, ready models) are relative to the
config file's folder, `run.output_dir` to the current folder; the validated
config holds them absolute, so the config written into a run folder repeats
the run from anywhere.

A config is read as a hostile file would be (`kdkeras.config.safe_yaml`),
and refused with a `ConfigError` before anything is built; after the schema,
a number that is not finite and held-out splits that leave nothing to train
on are refused too (`validate_config`).
"""

import os

import pydantic
import yaml

from kdkeras.config.errors import ConfigError, from_validation_error
from kdkeras.config.fields import NAMED_DATA_SETS
from kdkeras.config.safe_yaml import parse_yaml, read_yaml
from kdkeras.config.schema import RunConfig
from kdkeras.config.section import without_registry_checks
from kdkeras.io_utils import atomic_path

PATH_KEYS = (
    ("data", "path"),
    ("data", "test_path"),
    ("data", "tokenizer", "path"),
    ("teacher", "path"),
    ("teacher", "paths"),
    ("teacher", "weights"),
    ("scratch", "path"),
    ("distill", "student_path"),
)
"""The keys that hold paths (one, or a list): resolved against the config's
folder and checked. A key path of any depth; a section on the way that is
null (e.g. `data.tokenizer` of images) has no path to resolve."""

_NOT_PATHS = {("teacher", "weights"): ("imagenet",)}


def parse_override(text):
    """`"distill.alpha=0.5"` → `(("distill", "alpha"), 0.5)`.

    The value is read as a YAML scalar or flow collection: `0.5` is a float,
    `true` a bool, `null` None, `[32, 32]` a list, anything else a string;
    with the limits of a config file (`parse_yaml`).

    Raises:
        ConfigError: If `text` is not `key.path=value`, or the value is
            refused.
    """
    key, separator, value = text.partition("=")
    parts = tuple(key.strip().split("."))
    if not separator or not all(parts):
        raise ConfigError(
            [
                "--set expects key.path=value, e.g. distill.alpha=0.5; "
                f"received: {text!r}"
            ]
        )
    try:
        return parts, parse_yaml(value)
    except ConfigError as error:
        raise ConfigError(
            [f"{key.strip()}: the --set value is refused: {p}" for p in error.problems]
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError(
            [f"{key.strip()}: the --set value is not valid YAML ({error})"]
        ) from None


def apply_overrides(data, overrides):
    """A copy of the config mapping `data` with each `key.path=value` set.

    Sections missing from `data` are created; an unknown key is left for the
    schema to refuse with the valid keys.
    """
    data = _deep_copy(data)
    for text in overrides:
        parts, value = parse_override(text)
        section = data
        for depth, part in enumerate(parts[:-1]):
            if section.get(part) is None:
                section[part] = {}
            section = section[part]
            if not isinstance(section, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(
                    [
                        f"{where}: --set {text!r} needs a section here; it holds "
                        f"{section!r}"
                    ]
                )
        section[parts[-1]] = value
    return data


def _deep_copy(data):
    if isinstance(data, dict):
        return {key: _deep_copy(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_deep_copy(value) for value in data]
    return data


def validate_config(data, base_dir=".", source=None):
    """The `RunConfig` of a mapping, its paths absolute and checked.

    Args:
        data: The mapping read from YAML (overrides applied).
        base_dir: The folder relative paths are relative to.
        source: Where `data` came from, for the error message.

    Raises:
        ConfigError: Listing every schema error; or every number that is not
            finite, held-out splits that leave nothing to train on and every
            missing path. The names checked against kdkeras' registries
            (`distill.loss` and its arguments, `distill.features` kinds,
            `teacher.preset`), which import Keras, are checked once the rest
            passes (`without_registry_checks`).
    """
    try:
        # First without the checks that import Keras (the names of losses,
        # feature methods and presets): an error elsewhere in seconds less.
        with without_registry_checks():
            RunConfig.model_validate(data)
        config = RunConfig.model_validate(data)
    except pydantic.ValidationError as error:
        raise from_validation_error(error, RunConfig, source) from None
    problems = _split_problems(config.data)
    return _resolved_paths(config, base_dir, source, problems)


def _split_problems(data):
    """Validation and test splits that together hold out every example.

    `data.test_split` is held out of the training examples only where there
    is no test set of its own: not for a named data set, nor with
    `data.test_path`. An `npz` is checked: whether it holds test arrays is
    known once it is read.
    """
    if data.source in NAMED_DATA_SETS or data.test_path is not None:
        return []
    total = data.validation_split + data.test_split
    if total < 1.0:
        return []
    return [
        "data.validation_split + data.test_split: expected a sum below 1, so "
        f"that examples are left to train on (received: {data.validation_split} "
        f"+ {data.test_split} = {total:.6g})"
    ]


def _resolved_paths(config, base_dir, source, problems):
    for keys in PATH_KEYS:
        *section_names, key = keys
        section = config
        for name in section_names:
            section = getattr(section, name)
            if section is None:
                break
        value = None if section is None else getattr(section, key)
        if value is None or value in _NOT_PATHS.get(keys, ()):
            continue
        where = ".".join(keys)
        if isinstance(value, list):
            paths = [
                _resolved_path(item, base_dir, f"{where}[{index}]", problems)
                for index, item in enumerate(value)
            ]
            path = None if None in paths else paths
        else:
            path = _resolved_path(value, base_dir, where, problems)
        if path is not None:
            setattr(section, key, path)
    # Outputs go where the command runs, as `runs/` does for most tools.
    config.run.output_dir = os.path.abspath(os.path.expanduser(config.run.output_dir))
    if problems:
        raise ConfigError(problems, source)
    return config


def _resolved_path(value, base_dir, key, problems):
    """`value` made absolute, or `None` with a problem if it does not exist."""
    path = os.path.abspath(os.path.join(base_dir, os.path.expanduser(value)))
    if not os.path.exists(path):
        problems.append(
            f"{key}: expected an existing file or folder; "
            f"received: {value!r} (not found: {path})"
        )
        return None
    return path


def load_config(path, overrides=()):
    """Reads, overrides and validates the config file `path`.

    Args:
        path: A YAML file.
        overrides: `key.path=value` strings (`--set`), applied before the
            validation.

    Returns:
        A `RunConfig` with every default filled in and absolute paths.

    Raises:
        ConfigError: If anything is wrong, before anything runs.
    """
    data = apply_overrides(read_yaml(path), overrides)
    return validate_config(data, os.path.dirname(os.path.abspath(path)), path)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a value seen twice out twice: `SafeConfigLoader` refuses aliases."""

    def ignore_aliases(self, data):
        return True


def config_to_yaml(config):
    """The YAML text of a `RunConfig`, every default written out."""
    return yaml.dump(
        config.model_dump(mode="json"),
        Dumper=_NoAliasDumper,
        sort_keys=False,
        allow_unicode=True,
    )


def write_config(config, path, overwrite=False):
    """Writes `config` as YAML to `path`, atomically."""
    with atomic_path(path, overwrite=overwrite) as temporary_path:
        with open(temporary_path, "w", encoding="utf-8") as file:
            file.write(config_to_yaml(config))
    return path
