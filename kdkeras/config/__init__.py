"""The config file of `kdkeras run`: schema, loading, overrides, errors.

Imported by the command line only: `import kdkeras` does not import pydantic.
"""

from kdkeras.config.errors import ConfigError
from kdkeras.config.loading import (
    apply_overrides,
    config_to_yaml,
    load_config,
    parse_override,
    read_yaml,
    validate_config,
    write_config,
)
from kdkeras.config.schema import RunConfig
