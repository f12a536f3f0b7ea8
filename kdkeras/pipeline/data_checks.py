"""Data that cannot train, refused before training: images that do not
decode, classes without (enough) examples; and a warning for unbalanced ones.

`keras.utils.image_dataset_from_directory` lists every file with an image
extension (`IMAGE_EXTENSIONS`) under each class folder and decodes it only
when training reads it: a corrupt, truncated or empty file stops an epoch
with a TensorFlow error that does not name it. `check_image_folder` decodes
every such file once, as Keras will (`tf.io.decode_image` with the run's
channels, `expand_animations=False`), in a parallel `tf.data` pass, so what
passes cannot fail in training. Files without an image extension are
counted and left out, as Keras leaves them out.

```python
check = check_image_folder("photos", channels=3)
check.counts       # {"cat": 120, "dog": 98}: images that decode
check.unreadable   # [("photos/cat/07.jpg", "Input is empty."), …]
```
"""

import dataclasses
import os
import re

from kdkeras.config.errors import ConfigError
from kdkeras.pipeline.folders import class_folders

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""What `keras.utils.image_dataset_from_directory` reads (any letter case)."""

MAX_CLASS_IMBALANCE = 10
"""Largest over smallest class size above which the data is called unbalanced."""

LISTED_FILES = 5
"""How many bad files an error names; the others are counted."""

CHANNELS = {"grayscale": 1, "rgb": 3}
"""The channels Keras decodes to for each `data.color_mode`."""


@dataclasses.dataclass
class ImageFolderCheck:
    """What `check_image_folder` found in a folder of class sub-folders.

    Attributes:
        directory: The folder.
        class_names: Its class folder names, sorted.
        readable: Class name → the paths of its images that decode, in the
            order Keras lists them (a sorted walk of the class folder).
        unreadable: `(path, reason)` of the files with an image extension
            that do not decode.
        non_image_files: How many files have no image extension.
    """

    directory: str
    class_names: list
    readable: dict
    unreadable: list
    non_image_files: int

    @property
    def counts(self):
        """Class name → how many of its images decode."""
        return {name: len(self.readable[name]) for name in self.class_names}

    @property
    def num_image_files(self):
        """Files with an image extension, readable or not."""
        return sum(self.counts.values()) + len(self.unreadable)


def check_image_folder(directory, channels=3, key="data.path"):
    """Lists and decodes every image of a folder of class sub-folders.

    Args:
        directory: The folder (`class_name/…/image.jpg`, sub-folders
            included, as Keras walks them).
        channels: 1 or 3, what Keras decodes to (`CHANNELS[color_mode]`): a
            GIF does not decode to one channel.
        key: The folder's config key or option, for errors.

    Returns:
        An `ImageFolderCheck`.

    Raises:
        ConfigError: If a class folder's name cannot be a class name
            (`kdkeras.pipeline.folders.class_folders`).
    """
    directory = os.fspath(directory)
    class_names = class_folders(directory, key)
    image_paths, non_image_files = {}, 0
    for class_name in class_names:
        image_paths[class_name] = []
        walk = os.walk(os.path.join(directory, class_name))
        for root, _, file_names in sorted(walk, key=lambda entry: entry[0]):
            for file_name in sorted(file_names):
                if file_name.lower().endswith(IMAGE_EXTENSIONS):
                    image_paths[class_name].append(os.path.join(root, file_name))
                else:
                    non_image_files += 1
    every_path = [path for paths in image_paths.values() for path in paths]
    unreadable = undecodable_images(every_path, channels)
    bad_paths = {path for path, _ in unreadable}
    readable = {
        name: [path for path in paths if path not in bad_paths]
        for name, paths in image_paths.items()
    }
    return ImageFolderCheck(
        directory, class_names, readable, unreadable, non_image_files
    )


def undecodable_images(paths, channels=3):
    """`(path, reason)` of each file of `paths` TensorFlow does not decode.

    Every file is read and decoded once (`tf.io.decode_image(…,
    channels=channels, expand_animations=False)`, as Keras does) in a
    parallel `tf.data` pass; the few that fail are decoded again, one by
    one, for the reason.

    Args:
        paths: Image file paths.
        channels: 1 or 3.

    Returns:
        A list of `(path, reason)`, in the order of `paths`.
    """
    import tensorflow as tf

    if not paths:
        return []

    def decoded_shape(index, path):
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=channels, expand_animations=False
        )
        return index, tf.shape(image)

    dataset = (
        tf.data.Dataset.from_tensor_slices((tf.range(len(paths)), list(paths)))
        .map(decoded_shape, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors()
    )
    decoded = {int(index) for index, _ in dataset.as_numpy_iterator()}
    failed = [path for index, path in enumerate(paths) if index not in decoded]
    reasons = ((path, _decode_error(path, channels)) for path in failed)
    return [(path, reason) for path, reason in reasons if reason is not None]


def _decode_error(path, channels):
    """Why `path` does not decode, in TensorFlow's words; `None` if it does."""
    import tensorflow as tf

    try:
        if os.path.getsize(path) == 0:
            return "empty file"
        tf.io.decode_image(
            tf.io.read_file(path), channels=channels, expand_animations=False
        )
    except (OSError, tf.errors.OpError) as error:
        message = getattr(error, "message", None) or str(error)
        # TensorFlow wraps its message in the op's name and device.
        message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
        message = re.sub(r"\s*\[Op:\w+\].*$", "", message, flags=re.DOTALL)
        message = re.sub(r"\s*One of [^.]* required\.", "", message)
        return message.strip().splitlines()[0][:160]
    return None


def unreadable_problems(unreadable, num_image_files, key):
    """The `ConfigError` lines of images that do not decode: a summary, then
    `LISTED_FILES` of them, path and reason, and how many more.

    Args:
        unreadable: `(path, reason)` pairs.
        num_image_files: How many image files were checked.
        key: The folder's config key (`data.path`, `data.test_path`).

    Returns:
        A list of lines, each starting with `key`.
    """
    lines = [
        f"{key}: expected images that decode; {len(unreadable)} of "
        f"{num_image_files} image files do not (data.on_unreadable: error). Fix "
        "or delete them, or set data.on_unreadable: skip to leave them out"
    ]
    lines += [f"{key}: {path}: {reason}" for path, reason in unreadable[:LISTED_FILES]]
    if len(unreadable) > LISTED_FILES:
        lines.append(f"{key}: … and {len(unreadable) - LISTED_FILES} more")
    return lines


def splits_needing_examples(data_config):
    """The splits each class needs an example in: training, and validation and
    test where the config holds them out of `data.path`."""
    splits = ["training"]
    if data_config.validation_split:
        splits.append("validation")
    if data_config.test_path is None:
        splits.append("test")
    return splits


def class_count_problems(counts, splits, noun="images"):
    """Classes without an example, or with fewer than `splits` need.

    Args:
        counts: Class name → number of readable examples.
        splits: The split names each class needs one example in.
        noun: What an example is, for the message (`"images"`, `"texts"`).

    Returns:
        One sentence per class at fault (no key): e.g. `"expected at least
        one readable image in every class folder; class 'dog' has none"`.
    """
    problems = []
    for name, count in counts.items():
        if count == 0:
            problems.append(
                f"expected at least one readable {noun[:-1]} in every class "
                f"folder; class {name!r} has none"
            )
        elif count < len(splits):
            problems.append(
                f"expected at least {len(splits)} {noun} in every class folder, "
                f"one for each split ({', '.join(splits)}); class {name!r} has "
                f"{count}"
            )
    return problems


def imbalance_warning(counts, noun="images"):
    """A sentence naming the largest and the smallest class when the first
    has more than `MAX_CLASS_IMBALANCE` times the examples of the second;
    `None` otherwise (or when a class is empty: that is an error)."""
    if len(counts) < 2 or min(counts.values()) == 0:
        return None
    largest = max(counts, key=counts.get)
    smallest = min(counts, key=counts.get)
    ratio = counts[largest] / counts[smallest]
    if ratio <= MAX_CLASS_IMBALANCE:
        return None
    return (
        f"unbalanced classes: {largest!r} has {counts[largest]} {noun}, "
        f"{ratio:.1f} times the {counts[smallest]} of {smallest!r} (more than "
        f"{MAX_CLASS_IMBALANCE}); the models may learn to neglect {smallest!r}"
    )


@dataclasses.dataclass
class RunFolderChecks:
    """What `check_run_image_folders` leaves for the run.

    Attributes:
        skipped_files: `(path, reason)` of the images that do not decode,
            left out (`data.on_unreadable: skip`).
        warnings: Sentences for the log and the report (class imbalance).
        non_image_files: Files without an image extension, left out.
    """

    skipped_files: list
    warnings: list
    non_image_files: int


def check_run_image_folders(data_config):
    """Checks the image folders of a run (`data.path`, `data.test_path`).

    Args:
        data_config: The `data` section (`source: image_folder`).

    Returns:
        A `RunFolderChecks`.

    Raises:
        ConfigError: Naming every problem: images that do not decode (with
            `data.on_unreadable: error`), a test folder with other classes,
            an empty class, a class with fewer images than the splits need.
    """
    channels = CHANNELS[data_config.color_mode]
    folders = [("data.path", check_image_folder(data_config.path, channels))]
    if data_config.test_path is not None:
        test = check_image_folder(data_config.test_path, channels, "data.test_path")
        folders.append(("data.test_path", test))
    problems, warnings, skipped = [], [], []
    train_classes = folders[0][1].class_names
    for key, check in folders:
        if check.class_names != train_classes:
            problems.append(
                f"{key}: expected the classes of data.path, {train_classes}; "
                f"received {check.directory} with {check.class_names}"
            )
            continue
        if check.unreadable and data_config.on_unreadable == "error":
            problems += unreadable_problems(
                check.unreadable, check.num_image_files, key
            )
        skipped += check.unreadable
        splits = splits_needing_examples(data_config) if key == "data.path" else []
        # A test folder needs one image per class: every class is scored.
        problems += [
            f"{key}: {problem}"
            for problem in class_count_problems(check.counts, splits or ["test"])
        ]
        warning = imbalance_warning(check.counts) if key == "data.path" else None
        if warning is not None:
            warnings.append(f"{key}: {warning}")
    if problems:
        raise ConfigError(problems)
    return RunFolderChecks(
        skipped, warnings, sum(check.non_image_files for _, check in folders)
    )


def files(count):
    """`"1 file"`, `"3 files"`."""
    return f"{count} file" + ("" if count == 1 else "s")


def without_files(dataset, skipped_paths):
    """A Keras folder dataset without the images of `skipped_paths`, which do
    not decode.

    Keras maps each `(path, label)` pair to `(image, label)` in one step, so
    the step that fails to decode a skipped file yields no element:
    `ignore_errors` drops the image and its label together, every other pair
    stays whole. The number of examples left is asserted (it is known: the
    files were decoded before), so `num_examples` reads it and a file that
    fails later is not dropped silently.

    Args:
        dataset: An unbatched dataset of `keras.utils.image_dataset_from_directory`.
        skipped_paths: The paths of the files that do not decode.

    Returns:
        `dataset` itself if it holds none of them; else the dataset without
        them, its `file_paths` the files kept, in Keras' order.
    """
    import tensorflow as tf

    skipped = {os.path.normpath(path) for path in skipped_paths}
    kept_paths = [
        path for path in dataset.file_paths if os.path.normpath(path) not in skipped
    ]
    if len(kept_paths) == len(dataset.file_paths):
        return dataset
    kept = dataset.ignore_errors().apply(
        tf.data.experimental.assert_cardinality(len(kept_paths))
    )
    kept.file_paths = kept_paths
    kept.class_names = dataset.class_names
    return kept


def data_check_lines(run_data):
    """The log lines of what the data checks left out and warned of.

    Args:
        run_data: A `kdkeras.pipeline.run_data.RunData`.

    Returns:
        A list of lines (empty when there is nothing to say): the files
        without an image extension, each image left out with its reason, and
        the warnings.
    """
    lines = []
    if run_data.non_image_files:
        lines.append(
            f"data: {files(run_data.non_image_files)} without an image extension "
            f"({', '.join(IMAGE_EXTENSIONS)}) left out, as Keras leaves them"
        )
    if run_data.skipped_files:
        lines.append(
            f"data: {len(run_data.skipped_files)} images that do not decode left "
            "out (data.on_unreadable: skip):"
        )
        lines += [f"  {path}: {reason}" for path, reason in run_data.skipped_files]
    lines += [f"warning: {warning}" for warning in run_data.data_warnings]
    return lines
