"""The class folders of an image or text folder: one sub-folder per class."""

import os


def class_folders(directory):
    """The sorted sub-folder names of a data folder: its class names."""
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_dir() and not entry.name.startswith(".")
    )
