"""`load_tokenizer`: the `WordTokenizer` kdkeras saved, found from one path.

A tokenizer is saved as two files: its vocabulary (`vocab.txt`,
`WordTokenizer.save_vocabulary`) and its settings (`WordTokenizer.get_config`),
either under `"tokenizer"` in a device package's `metadata.json`
(`kdkeras.export.save_for_device(tokenizer=...)`, the `package/` of a
`kdkeras run`) or alone in `tokenizer.json` (`tools/train_text_teacher.py`,
beside its `teacher.keras`).
"""

import json
import os

from kdkeras.text.tokenizer import WordTokenizer

SETTINGS_FILE = "tokenizer.json"
"""The settings of a tokenizer saved beside a model (`get_config()` as JSON)."""

PACKAGE_METADATA_FILE = "metadata.json"
"""A device package's metadata, the tokenizer's settings under `"tokenizer"`."""

_SETTINGS_FILES = (PACKAGE_METADATA_FILE, SETTINGS_FILE)


def load_tokenizer(path):
    """The `WordTokenizer` saved at `path`.

    Example:

    ```python
    tokenizer = load_tokenizer("saved_models/pretrained/spam_assassin_teacher")
    tokenizer = load_tokenizer("runs/spam-assassin-20261130-120000/package")
    ```

    Args:
        path: A folder holding `metadata.json` with a `"tokenizer"` (a device
            package) or `tokenizer.json`, and the vocabulary file they name;
            one of those JSON files; or a vocabulary file whose settings sit
            beside it (it does not hold `sequence_length` itself).

    Returns:
        The `WordTokenizer`, equal to the one that was saved.

    Raises:
        ValueError: If `path` holds no saved tokenizer, or its files do not
            agree (see `WordTokenizer.from_files`).
        OSError: If a file cannot be read.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        directory, vocabulary_name = path, None
    elif path.endswith(".json"):
        settings = _settings(path)
        if settings is None:
            raise ValueError(
                f"`path` must be a tokenizer's settings file ({SETTINGS_FILE}, or "
                f"a package's {PACKAGE_METADATA_FILE} with a 'tokenizer'). "
                f"Received: {path}, which holds neither"
            )
        return _from_settings(os.path.dirname(path), settings, path)
    elif os.path.isfile(path):
        directory, vocabulary_name = os.path.split(path)
    else:
        raise ValueError(f"`path` must exist. Received: {path} (not found)")
    for name in _SETTINGS_FILES:
        settings_path = os.path.join(directory, name)
        if not os.path.isfile(settings_path):
            continue
        settings = _settings(settings_path)
        if settings is not None and vocabulary_name in (
            None,
            settings.get("vocabulary_file"),
        ):
            return _from_settings(directory, settings, settings_path)
    expected = (
        f"a folder with {' or '.join(_SETTINGS_FILES)} naming a vocabulary file"
        if vocabulary_name is None
        else f"a vocabulary file with {' or '.join(_SETTINGS_FILES)} beside it "
        "naming it (the vocabulary alone has no sequence_length)"
    )
    raise ValueError(
        f"`path` must be {expected}. Received: {path} ({_listing(directory)})"
    )


def _settings(path):
    """The tokenizer settings in the JSON file `path`, or `None`."""
    with open(path, encoding="utf-8") as file:
        try:
            data = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("tokenizer"), dict):
        return data["tokenizer"]
    return data if "vocabulary_file" in data else None


def _from_settings(directory, settings, settings_path):
    missing = [
        key for key in ("vocabulary_file", "sequence_length") if key not in settings
    ]
    if missing:
        raise ValueError(
            f"The tokenizer settings of {settings_path} must hold {missing}. "
            f"Received: keys {sorted(settings)}"
        )
    vocabulary_path = os.path.join(directory, settings["vocabulary_file"])
    return WordTokenizer.from_files(vocabulary_path, settings)


def _listing(directory):
    names = sorted(os.listdir(directory or "."))
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return f"its folder holds {shown}" if names else "its folder is empty"
