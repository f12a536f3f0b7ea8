"""Labelled images for `kdkeras export` and `kdkeras report`: a `.npz` file or
an image folder, read at the size a model takes."""

import os

import click
import numpy as np

from kdkeras.pipeline.folders import class_folders
from kdkeras.pipeline.npz_checks import labelled_array_problems, npz_class_names


def model_input_shape(path):
    """The shape of one input of the `.keras` or `.tflite` model at `path`."""
    if path.endswith(".tflite"):
        from kdkeras.litert import LiteRTModel

        return tuple(LiteRTModel(path).input_shape[1:])
    import keras

    return tuple(keras.saving.load_model(path).inputs[0].shape[1:])


def read_labels_file(path):
    """The class names in `path`, one per line (as `labels.txt`), checked
    (`kdkeras.validation.labels.class_name_problem`, `--labels`)."""
    from kdkeras.config.errors import ConfigError
    from kdkeras.validation.labels import class_name_problems

    with open(path, encoding="utf-8") as file:
        names = [line.strip() for line in file if line.strip()]
    problems = class_name_problems(names, "--labels")
    if problems:
        raise ConfigError(problems)
    return names


def check_label_order(labels, data_class_names, labels_path, renaming=True):
    """Refuses `--labels` that name the data's classes in another order.

    Args:
        labels: The names of the `--labels` file.
        data_class_names: The class names of `--data` (its class folders or
            `class_names`), or `None` if it names none.
        labels_path: The `--labels` file, for the error.
        renaming: Whether other names, one per class, rename the classes
            (`kdkeras report`: kept); if `False` (`kdkeras export`: the
            package's `labels.txt` would name the model's outputs wrongly)
            they are refused too.

    Raises:
        ConfigError: Naming `--labels`, the file and the data's order.
    """
    from kdkeras.config.errors import ConfigError

    if data_class_names is None or labels == list(data_class_names):
        return
    reordered = sorted(labels) == sorted(data_class_names)
    if renaming and not reordered:
        return
    consequence = (
        "the same names in another order would swap the rows of the report"
        if renaming
        else "labels.txt would name the model's outputs wrongly"
    )
    raise ConfigError(
        [
            f"--labels: {labels_path}: expected the classes of --data in its "
            f"order, {list(data_class_names)}; received {labels} ({consequence}). "
            "Give the names in the data's order, or leave out --labels"
        ]
    )


def read_images(path, input_shape, split, batch_size=64):
    """`(data, class_names)`: labelled images from a `.npz` or an image folder.

    Args:
        path: A `.npz` file (`x_<split>`, `y_<split>`, else `x`, `y`, and
            optionally `class_names`) or a folder with one sub-folder per class.
        input_shape: The model's input shape, `(height, width, channels)`:
            images of a folder are resized to it.
        split: `"train"` or `"test"`: which arrays of a `.npz` to read.
        batch_size: Batch size of a folder's dataset.

    Returns:
        `data` is `(x, y)` arrays or a batched `(images, labels)`
        `tf.data.Dataset` (in a fixed order); `class_names` is `None` when the
        file names none.
    """
    if os.path.isdir(path):
        import keras

        class_names = class_folders(path, "--data")
        dataset = keras.utils.image_dataset_from_directory(
            path,
            class_names=class_names,
            color_mode="grayscale" if input_shape[-1] == 1 else "rgb",
            image_size=tuple(input_shape[:2]),
            batch_size=batch_size,
            shuffle=False,
            verbose=False,
        )
        return dataset, class_names
    with np.load(path, allow_pickle=False) as arrays:
        keys = (f"x_{split}", f"y_{split}")
        if not all(key in arrays.files for key in keys):
            keys = ("x", "y")
        if not all(key in arrays.files for key in keys):
            raise click.BadParameter(
                f"expected a folder of class sub-folders, or a .npz with "
                f"x_{split} and y_{split} (or x and y); received {path} with "
                f"{sorted(arrays.files)}",
                param_hint="--data",
            )
        x, y = arrays[keys[0]], arrays[keys[1]]
        class_names = (
            npz_class_names(arrays["class_names"], "--data")
            if "class_names" in arrays.files
            else None
        )
    from kdkeras.config.errors import ConfigError

    # NaN or infinite pixels, labels that are no class ids: named by --data,
    # the file and the array, as `kdkeras run` names them.
    problems = labelled_array_problems(x, y, keys, f"--data {path}")
    if class_names is not None:
        from kdkeras.validation.labels import class_name_problems

        problems += class_name_problems(class_names, "--data", "class_names entry")
    if problems:
        raise ConfigError(problems)
    if x.ndim == len(input_shape):  # Grayscale images without a channel axis.
        x = x[..., None]
    return (x, y), class_names
