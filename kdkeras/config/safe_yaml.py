"""YAML config text read as a hostile file would be: `read_yaml` and
`parse_yaml` refuse, with a `ConfigError`, before anything is built: more
than `MAX_CONFIG_BYTES`, bytes that are not UTF-8, YAML anchors or aliases
(`SafeConfigLoader`), more than `MAX_YAML_NODES` values or `MAX_YAML_DEPTH`
levels, and a key written twice in a mapping."""

import os

import yaml

from kdkeras.config.errors import ConfigError, key_path

MAX_CONFIG_BYTES = 1_000_000
"""The largest config file, and `--set` value, read (the demo's is 2 kB)."""

MAX_YAML_NODES = 10_000
"""The most YAML values (scalars, lists, mappings) one file or `--set` value
may hold: a few hundred in a real config; bounds the memory of parsing."""

MAX_YAML_DEPTH = 32
"""The deepest nesting of lists and mappings (a real config has 5 levels);
deeper would exhaust Python's recursion in the YAML composer."""


class SafeConfigLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses what a config file never needs.

    Anchors and aliases (`&base`, `*base`, `<<: *base`) are refused outright,
    not limited: an alias is a reference, so a few hundred bytes of nested
    aliases ("billion laughs") stand for gigabytes once the mapping is
    copied, validated or written, and a budget on the expansion would have to
    be enforced at every one of those places. A config is short enough to
    write each value out, and `write_config` never writes an alias.

    A key written twice in a mapping (which YAML resolves by silently keeping
    the last) is refused with its key path and both lines; more than
    `MAX_YAML_NODES` values or `MAX_YAML_DEPTH` levels are refused as they are
    read; a scalar PyYAML cannot construct (`2024-13-45`) is refused with its
    line. Each refusal is a `ConfigError` without `source`, one line that
    starts with the key path or the line.
    """

    def __init__(self, text):
        super().__init__(text)
        self._path = []
        self._nodes = 0

    def compose_node(self, parent, index):
        self._path.append(index.value if isinstance(index, yaml.Node) else index)
        try:
            self._check_next_node()
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def _check_next_node(self):
        event = self.peek_event()
        if event.anchor is not None:
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            problem = (
                "expected no YAML anchors or aliases (&name, *name, <<: *name); "
                f"received {sign}{event.anchor} (write the value out)"
            )
        elif len(self._path) > MAX_YAML_DEPTH:
            problem = (
                f"expected lists and mappings nested at most {MAX_YAML_DEPTH} "
                "deep; received deeper"
            )
        elif self._nodes >= MAX_YAML_NODES:
            problem = (
                f"expected at most {MAX_YAML_NODES:,} values in a config; received more"
            )
        else:
            self._nodes += 1
            return
        raise ConfigError([f"{self._where(event)}: {problem}"])

    def compose_mapping_node(self, anchor):
        node = super().compose_mapping_node(anchor)
        first_keys = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            first = first_keys.setdefault((key.tag, key.value), key)
            if first is not key:
                raise ConfigError(
                    [
                        f"{self._key_path(key.value)}: written twice (lines "
                        f"{_line(first)} and {_line(key)}); expected each key once"
                    ]
                )
        return node

    def construct_object(self, node, deep=False):
        # PyYAML's own constructors raise plain errors for a scalar of the
        # right shape and the wrong value (`2024-13-45`, an int of 5,000
        # digits); they are config errors like the others.
        try:
            return super().construct_object(node, deep)
        except ConfigError:
            raise
        except (ValueError, OverflowError) as error:
            kind = node.tag.rpartition(":")[2]
            value = node.value if len(node.value) <= 40 else node.value[:39] + "…"
            raise ConfigError(
                [
                    f"line {_line(node)}: expected a valid {kind}; received {value!r} "
                    f"({error})"
                ]
            ) from None

    def _key_path(self, *last):
        """The key path of the node being read (keys themselves add `None`)."""
        return key_path([part for part in (*self._path, *last) if part is not None])

    def _where(self, event):
        """`key.path (line n)` of the node `event` starts, or `line n`
        (where the key path is no help: top level, or nested too deep)."""
        if len(self._path) > MAX_YAML_DEPTH or all(p is None for p in self._path):
            return f"line {_line(event)}"
        return f"{self._key_path()} (line {_line(event)})"


def _line(node_or_event):
    return node_or_event.start_mark.line + 1


def parse_yaml(text):
    """The value of the YAML `text`, read with `SafeConfigLoader`.

    Raises:
        ConfigError: If `text` is longer than `MAX_CONFIG_BYTES` in UTF-8, or
            `SafeConfigLoader` refuses it (no `source`).
        yaml.YAMLError: If `text` is not YAML.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            [f"expected at most {MAX_CONFIG_BYTES:,} bytes; received {size:,}"]
        )
    loader = SafeConfigLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path):
    """The mapping in the YAML file `path` (`parse_yaml`).

    Raises:
        ConfigError: If the file is missing, over `MAX_CONFIG_BYTES`, not
            UTF-8, not YAML, refused by `SafeConfigLoader`, or not a mapping.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ConfigError([f"config file not found: {os.path.abspath(path)}"])
    with open(path, "rb") as file:
        # One byte over the limit is enough to refuse, however large the file.
        raw = file.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        size = os.path.getsize(path)
        raise ConfigError(
            [
                f"expected a config file of at most {MAX_CONFIG_BYTES:,} bytes; "
                f"received {size:,} bytes"
            ],
            source=path,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            [
                f"expected UTF-8 text; received byte 0x{raw[error.start]:02x} at "
                f"byte offset {error.start} (line {line})"
            ],
            source=path,
        ) from None
    try:
        data = parse_yaml(text)
    except ConfigError as error:
        raise ConfigError(error.problems, source=path) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"not valid YAML: {error}"], source=path) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [f"expected a mapping of sections (run, data, …); received: {data!r}"],
            source=path,
        )
    return data
