"""Values written into the YAML text of a config so that they read back
unchanged (`kdkeras init` writes its config as commented text, not with a
YAML dumper)."""

import re


def yaml_path(path):
    """`path` as a YAML scalar that reads back as `path`: as it is where it
    is plain (letters, digits, `_ . / -`), double-quoted with escapes where it
    has a `#`, a `:`, a newline, leading spaces or the like.

    Raises:
        ValueError: If `path` is not valid UTF-8 (a file name of other
            bytes), which a UTF-8 config cannot hold.
    """
    import yaml

    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"expected a folder path that is valid UTF-8, which a config can "
            f"hold; received {path!r}"
        ) from None
    if re.fullmatch(r"[A-Za-z0-9_./-]+", path) and yaml.safe_load(path) == path:
        return path
    text = yaml.safe_dump(
        path, default_style='"', allow_unicode=True, width=float("inf")
    ).strip()
    if text.endswith("\n..."):  # PyYAML ends a lone scalar's document so.
        text = text[: -len("\n...")].strip()
    if "\n" in text or yaml.safe_load(text) != path:
        raise ValueError(
            f"expected a folder path a YAML config can hold; received {path!r}"
        )
    return text
