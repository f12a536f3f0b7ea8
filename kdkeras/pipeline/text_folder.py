"""Texts of your own: a folder with one sub-folder of `.txt` files per class.

```
messages/complaint/0001.txt  messages/complaint/0002.txt  …
messages/praise/0001.txt  …
```

The layout of `keras.utils.text_dataset_from_directory`: the sub-folder
names, sorted, are the class names; each `.txt` file (UTF-8) is one
example. The texts are read into memory, as the named text sets are, so
the tokenizer can be adapted on them and the splits hold token ids. Each
class needs a text for each split (`check_text_classes`); a class with more
than ten times the texts of another is warned of.
"""

import os

import numpy as np

from kdkeras.config.errors import ConfigError
from kdkeras.pipeline.data_checks import (
    class_count_problems,
    imbalance_warning,
    splits_needing_examples,
)
from kdkeras.pipeline.folders import class_folders

TEXT_SUFFIX = ".txt"


def read_text_folder(directory, key, class_names=None):
    """`(texts, labels, class_names)` of a folder of class sub-folders.

    Args:
        directory: The folder.
        key: Its config key (`data.path`, `data.test_path`), for errors.
        class_names: The classes it must have (a test folder's, those of
            the training folder); `None` reads them from the sub-folders.

    Returns:
        An `object` array of the texts, their `int32` class ids, and the
        class names.

    Raises:
        ConfigError: If there are fewer than two classes, a class folder
            whose name cannot be a class name, a class without a `.txt`
            file, other classes than `class_names`, or a file that is not
            UTF-8.
    """
    found = class_folders(directory, key)
    if class_names is None and len(found) < 2:
        raise ConfigError(
            [
                f"{key}: expected a folder with one sub-folder of .txt files per "
                f"class (at least 2); received {directory} with {found}"
            ]
        )
    if class_names is not None and found != list(class_names):
        raise ConfigError(
            [
                f"{key}: expected the classes of data.path, {list(class_names)}; "
                f"received {directory} with {found}"
            ]
        )
    texts, labels = [], []
    for label, name in enumerate(found):
        class_dir = os.path.join(directory, name)
        files = sorted(
            entry.path
            for entry in os.scandir(class_dir)
            if entry.is_file() and entry.name.endswith(TEXT_SUFFIX)
        )
        if not files:
            raise ConfigError(
                [
                    f"{key}: expected .txt files in every class folder; "
                    f"{class_dir} has none"
                ]
            )
        texts += [_read(path, key) for path in files]
        labels += [label] * len(files)
    return np.array(texts, dtype=object), np.array(labels, np.int32), found


def _read(path, key):
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except UnicodeDecodeError as error:
        raise ConfigError(
            [f"{key}: expected UTF-8 text files; {path} is not ({error})"]
        ) from None


def check_text_classes(labels, class_names, data_config):
    """Refuses a class with fewer texts than the splits need; warns of
    unbalanced classes (`kdkeras.pipeline.data_checks`).

    Args:
        labels: The class id of every text of `data.path`.
        class_names: The class names, in label order.
        data_config: The `data` section (its splits).

    Returns:
        The warnings, each starting with `data.path`.

    Raises:
        ConfigError: Naming each class with too few texts and the numbers.
    """
    sizes = np.bincount(np.asarray(labels), minlength=len(class_names))
    counts = {name: int(size) for name, size in zip(class_names, sizes, strict=True)}
    splits = splits_needing_examples(data_config)
    problems = class_count_problems(counts, splits, noun="texts")
    if problems:
        raise ConfigError([f"data.path: {problem}" for problem in problems])
    warning = imbalance_warning(counts, noun="texts")
    return [] if warning is None else [f"data.path: {warning}"]
