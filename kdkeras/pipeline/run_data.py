"""The data of a run: train, validation and test splits, and the class names.

A split is either `(x, y)` NumPy arrays (the named data sets and `.npz`
files, which fit in memory; for texts, the token ids of a
`kdkeras.text.WordTokenizer`, saved or adapted on the training texts) or an
unbatched `tf.data.Dataset` of `(image, label)` pairs read from an image folder
(`keras.utils.image_dataset_from_directory`), which never sits in memory as
one array. `batched` turns either into the batches a training stage reads.
"""

import dataclasses
import zipfile

import numpy as np

from kdkeras import batches
from kdkeras.config.errors import ConfigError
from kdkeras.pipeline.data_checks import check_run_image_folders, without_files
from kdkeras.pipeline.folder_logits import file_labels
from kdkeras.pipeline.folders import class_folders
from kdkeras.pipeline.npz_checks import check_npz_arrays, npz_class_names
from kdkeras.pipeline.text_folder import check_text_classes, read_text_folder

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test", "class_names")
"""The arrays of a data `.npz` file; `x_test`, `y_test`, `class_names` optional."""


@dataclasses.dataclass
class RunData:
    """The splits of a run and what the models need to know about them.

    Attributes:
        train: `(x, y)` arrays or an unbatched `(image, label)` dataset.
        validation: The same kind as `train`, or `None`.
        test: The same kind as `train`.
        class_names: One name per class, in label order.
        input_shape: The shape of one image, e.g. `(28, 28, 1)`.
        train_files: For an image folder, `(paths, labels)` of the training
            split in a fixed order (`kdkeras.pipeline.folder_logits`);
            otherwise `None`.
        tokenizer: For texts, the `WordTokenizer` that made the ids of every
            split; otherwise `None`.
        skipped_files: `(path, reason)` of the images that do not decode,
            left out of every split (`data.on_unreadable: skip`).
        data_warnings: Sentences on data that trains but may train badly
            (unbalanced classes), for the log and the report.
        non_image_files: Files of an image folder without an image
            extension, left out as Keras leaves them out.
    """

    train: object
    validation: object
    test: object
    class_names: list
    input_shape: tuple
    train_files: tuple | None = None
    tokenizer: object = None
    skipped_files: list = dataclasses.field(default_factory=list)
    data_warnings: list = dataclasses.field(default_factory=list)
    non_image_files: int = 0

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def in_memory(self):
        return isinstance(self.train, tuple)


def load_run_data(data_config, seed):
    """Loads the splits `data_config` (a `DataSection`) describes.

    Args:
        data_config: The `data` section of a `RunConfig`.
        seed: Seed of the validation (and test) split.

    Returns:
        A `RunData`.

    Raises:
        ConfigError: If the files do not hold what the config says.
    """
    if data_config.source == "image_folder":
        return _image_folder_data(data_config, seed)
    (x_train, y_train), test, class_names = _arrays(data_config)
    data_warnings = []
    if data_config.source == "text_folder":
        data_warnings = check_text_classes(y_train, class_names, data_config)
    x_train, y_train = _limited((x_train, y_train), data_config.max_train_examples)
    train, held_out = _split_arrays(
        (x_train, y_train),
        data_config.validation_split + (0 if test else data_config.test_split),
        seed,
    )
    if test is None:
        validation, test = _split_arrays_in_two(
            held_out, data_config.validation_split, data_config.test_split
        )
    else:
        validation = held_out
    test = _limited(test, data_config.max_test_examples)
    for name, (_, labels) in (("train", train), ("test", test)):
        _check_labels(labels, len(class_names), data_config.source, name)
    tokenizer = None
    if data_config.tokenizer is not None:
        tokenizer, (train, validation, test) = _tokenized(
            data_config.tokenizer, (train, validation, test)
        )
    return RunData(
        train,
        validation,
        test,
        list(class_names),
        train[0].shape[1:],
        tokenizer=tokenizer,
        data_warnings=data_warnings,
    )


def _tokenized(tokenizer_config, splits):
    """The run's tokenizer (saved, or adapted on the training texts), and
    every split as ids."""
    from kdkeras.pipeline.text_tokenizer import run_tokenizer

    tokenizer = run_tokenizer(tokenizer_config, splits[0][0])
    return tokenizer, tuple(
        None if split is None else (tokenizer(split[0]), split[1]) for split in splits
    )


def _arrays(data_config):
    """`(x_train, y_train)`, `(x_test, y_test)` or `None`, and the class names."""
    from kdkeras import datasets

    if data_config.source == "npz":
        return _npz_arrays(data_config.path)
    if data_config.source == "text_folder":
        return _text_folder_arrays(data_config)
    loaders = {
        "embedded_fashion_mnist": lambda path: datasets.load_embedded_fashion_mnist(),
        "fashion_mnist": datasets.load_fashion_mnist,
        "mnist": datasets.load_mnist,
        "embedded_spam_assassin": lambda path: datasets.load_embedded_spam_assassin(),
        "spam_assassin": datasets.load_spam_assassin,
    }
    (x_train, y_train), (x_test, y_test) = loaders[data_config.source](data_config.path)
    if data_config.is_text:
        class_names = list(datasets.SPAM_ASSASSIN_CLASS_NAMES)
        return (x_train, y_train), (x_test, y_test), class_names
    class_names = (
        [str(digit) for digit in range(10)]
        if data_config.source == "mnist"
        else list(datasets.FASHION_MNIST_CLASS_NAMES)
    )
    # The images are (N, 28, 28): models take a channel axis.
    return (
        (x_train[..., None], y_train),
        (x_test[..., None], y_test),
        class_names,
    )


def _text_folder_arrays(data_config):
    texts, labels, class_names = read_text_folder(data_config.path, "data.path")
    test = None
    if data_config.test_path is not None:
        test_texts, test_labels, _ = read_text_folder(
            data_config.test_path, "data.test_path", class_names
        )
        test = (test_texts, test_labels)
    return (texts, labels), test, class_names


def _npz_arrays(path):
    """The arrays of a data `.npz`, checked (`kdkeras.pipeline.npz_checks`)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [key for key in ("x_train", "y_train") if key not in arrays.files]
            if missing or ("x_test" in arrays.files) != ("y_test" in arrays.files):
                raise ConfigError(
                    [
                        f"data.path: expected a .npz file with x_train and y_train "
                        "(and optionally x_test with y_test, class_names); "
                        f"received {path} with {sorted(arrays.files)}"
                    ]
                )
            loaded = {key: arrays[key] for key in arrays.files if key in NPZ_KEYS}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, ConfigError):
            raise
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigError(
            [
                f"data.path: expected a .npz file (numpy.savez) of numeric arrays "
                f"that loads; received {path} ({reason[:160]})"
            ]
        ) from None
    class_names = None
    if "class_names" in loaded:
        class_names = npz_class_names(loaded["class_names"])
    class_names = check_npz_arrays(loaded, class_names)
    x_train, y_train = loaded["x_train"], loaded["y_train"].reshape(-1)
    if x_train.ndim == 3:
        x_train = x_train[..., None]
    test = None
    if "x_test" in loaded:
        x_test = loaded["x_test"]
        test = (
            x_test[..., None] if x_test.ndim == 3 else x_test,
            loaded["y_test"].reshape(-1),
        )
    return (x_train, y_train), test, class_names


def _limited(split, max_examples):
    if split is None or max_examples is None:
        return split
    x, y = split
    return x[:max_examples], y[:max_examples]


def _split_arrays(split, fraction, seed):
    """`(kept, held_out)`: a seeded random `fraction` of `split` held out."""
    x, y = split
    order = np.random.default_rng(seed).permutation(len(x))
    num_held_out = round(len(x) * fraction)
    if fraction and not 0 < num_held_out < len(x):
        raise ConfigError(
            [
                f"data.validation_split: expected a fraction that leaves examples "
                f"on both sides of {len(x)} training examples; received {fraction}"
            ]
        )
    kept, held_out = order[num_held_out:], order[:num_held_out]
    return (x[kept], y[kept]), (x[held_out], y[held_out]) if num_held_out else None


def _split_arrays_in_two(split, first_fraction, second_fraction):
    """Splits the held-out examples into validation and test, in proportion."""
    x, y = split
    num_first = round(len(x) * first_fraction / (first_fraction + second_fraction))
    validation = (x[:num_first], y[:num_first]) if num_first else None
    return validation, (x[num_first:], y[num_first:])


def _check_labels(labels, num_classes, source, split_name):
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(
            [
                f"data ({source}): expected integer class ids of shape (N,) in "
                f"the {split_name} labels; received {labels.dtype} of shape "
                f"{labels.shape}"
            ]
        )
    if len(labels) and not 0 <= labels.min() <= labels.max() < num_classes:
        raise ConfigError(
            [
                f"data ({source}): expected {split_name} labels in [0, "
                f"{num_classes}) for {num_classes} class names; received labels "
                f"from {labels.min()} to {labels.max()}"
            ]
        )


def _image_folder_data(data_config, seed):
    import keras

    class_names = class_folders(data_config.path)
    if len(class_names) < 2:
        raise ConfigError(
            [
                "data.path: expected an image folder with one sub-folder per "
                f"class (at least 2); received {data_config.path} with "
                f"{class_names}"
            ]
        )
    checks = check_run_image_folders(data_config)
    skipped_paths = [path for path, _ in checks.skipped_files]
    held_out_fraction = data_config.validation_split
    if data_config.test_path is None:
        held_out_fraction += data_config.test_split
    options = dict(
        labels="inferred",
        label_mode="int",
        class_names=class_names,
        color_mode=data_config.color_mode,
        batch_size=None,
        image_size=tuple(data_config.image_size),
        seed=seed,
        verbose=False,
    )
    if held_out_fraction:
        train, held_out = keras.utils.image_dataset_from_directory(
            data_config.path,
            validation_split=held_out_fraction,
            subset="both",
            **options,
        )
        train = without_files(train, skipped_paths)
        held_out = without_files(held_out, skipped_paths)
        # Keras reads the held-out files in one fixed (seeded) order, so
        # `take` and `skip` split them for good.
        num_held_out = len(held_out.file_paths)
        num_validation = round(
            num_held_out * data_config.validation_split / held_out_fraction
        )
        validation = held_out.take(num_validation) if num_validation else None
        test = held_out.skip(num_validation)
    else:
        train = keras.utils.image_dataset_from_directory(data_config.path, **options)
        train = without_files(train, skipped_paths)
        validation = test = None
    if data_config.test_path is not None:
        test = keras.utils.image_dataset_from_directory(
            data_config.test_path, **{**options, "seed": None}, shuffle=False
        )
        test = without_files(test, skipped_paths)
    if data_config.max_test_examples is not None:
        test = test.take(data_config.max_test_examples)
    channels = 1 if data_config.color_mode == "grayscale" else 3
    input_shape = (*data_config.image_size, channels)
    train_paths = list(train.file_paths)
    train_files = (
        train_paths,
        file_labels(train_paths, data_config.path, class_names),
    )
    return RunData(
        train,
        validation,
        test,
        class_names,
        input_shape,
        train_files,
        skipped_files=checks.skipped_files,
        data_warnings=checks.warnings,
        non_image_files=checks.non_image_files,
    )


def num_examples(split):
    """How many examples `split` holds (arrays, or a dataset of known size)."""
    if isinstance(split, tuple):
        return len(split[0])
    count = int(split.cardinality())
    if count < 0:
        raise ValueError(
            "The number of examples of this dataset is unknown "
            f"(cardinality {count}); kdkeras run reads datasets of known size."
        )
    return count


def steps_per_epoch(split, batch_size):
    """Batches per epoch of `split` at `batch_size`."""
    return batches.steps_per_epoch(num_examples(split), batch_size)


def batched(split, batch_size, shuffle=False, seed=None):
    """`split` as a batched `tf.data.Dataset` of `(images, labels)`.

    Args:
        split: `(x, y)` arrays or an unbatched `(image, label)` dataset.
        batch_size: Examples per batch.
        shuffle: Whether arrays are reshuffled every epoch (an image folder's
            training split already is, by Keras).
        seed: Seed of the shuffle.
    """
    import tensorflow as tf

    if not isinstance(split, tuple):
        return split.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    x, y = split
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    # In memory, autotuning gains nothing and can stall `fit` between epochs
    # in TF 2.21 (see `kdkeras.caches.offline_dataset`).
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.batch(batch_size).prefetch(2).with_options(options)


def evaluation_data(split, batch_size=256):
    """`split` as `evaluate_model` and the report take it: `(x, y)` or batches."""
    if isinstance(split, tuple):
        return split
    return (batched(split, batch_size), None)
