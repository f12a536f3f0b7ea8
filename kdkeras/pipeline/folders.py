"""The class folders of an image or text folder: one sub-folder per class.

Their names are the class names, so they are checked as class names
(`kdkeras.validation.labels.class_name_problem`): a folder named `a\\nb`,
` cat` or `a\\b` is refused, never renamed, before anything trains.
"""

import os

from kdkeras.config.errors import ConfigError
from kdkeras.validation.labels import class_name_problems


def class_folders(directory, key="data.path"):
    """The sorted sub-folder names of a data folder: its class names.

    Args:
        directory: The data folder.
        key: Its config key or option (`data.path`, `data.test_path`,
            `--data`), for errors.

    Raises:
        ConfigError: If a name cannot be a class name (`folder_name_problems`).
    """
    names = sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_dir() and not entry.name.startswith(".")
    )
    problems = folder_name_problems(names, key)
    if problems:
        raise ConfigError(problems)
    return names


def folder_name_problems(names, key):
    """The lines naming each class folder of `names` that cannot be a class
    name, with what is expected; empty if none."""
    return [
        problem + " (rename the folder)"
        for problem in class_name_problems(names, key, noun="class folder")
    ]
