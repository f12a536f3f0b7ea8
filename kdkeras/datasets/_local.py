"""Logic shared by the MNIST-style loaders: local IDX files or `keras.datasets`.

Each public loader (`load_fashion_mnist`, `load_mnist`) describes its dataset
with a `DatasetSpec` and calls `load_dataset`, which picks the source, finds the
four standard IDX files, reads them and builds a helpful error when the data
can be found nowhere.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

from kdkeras.datasets.idx import read_idx

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_FILE_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
VALID_SOURCES = ("auto", "keras", "local")


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a dataset is neither on disk nor downloadable."""


@dataclass(frozen=True)
class DatasetSpec:
    """Describes one MNIST-style dataset for `load_dataset`.

    Attributes:
        display_name: Human-readable name, e.g. `"Fashion-MNIST"`.
        keras_name: Name of the `keras.datasets` submodule, e.g.
            `"fashion_mnist"`.
        default_dirs: Callable returning the directories to search when no
            `path` is given (evaluated at call time, so environment variables
            are read when the data is loaded).
        how_to_fix: Lines of advice appended to the "not found" error.
    """

    display_name: str
    keras_name: str
    default_dirs: Callable[[], list[str]]
    how_to_fix: tuple[str, ...]


def load_dataset(spec, path=None, source="auto"):
    """Loads an MNIST-style dataset from local IDX files or `keras.datasets`.

    Args:
        spec: The `DatasetSpec` of the dataset.
        path: Optional directory holding the four IDX files. When given, it
            replaces the default directories of `spec`.
        source: `"auto"` (local files if found, else `keras.datasets`),
            `"local"` (local files only) or `"keras"` (`keras.datasets` only).

    Returns:
        `(x_train, y_train), (x_test, y_test)` as `uint8` numpy arrays, in the
        format of `keras.datasets.<name>.load_data()`.

    Raises:
        ValueError: If `source` is invalid, if `path` is combined with
            `source="keras"` or if the files are malformed.
        DatasetNotFoundError: If the data is neither found locally nor
            downloadable.
    """
    _check_source(source)
    if source == "keras":
        if path is not None:
            raise ValueError(
                "`path` can only be used with source='auto' or source='local' "
                "(keras.datasets manages its own cache). "
                f"Received: path={path!r}, source={source!r}"
            )
        dirs = []
    else:
        dirs = [os.fspath(path)] if path is not None else spec.default_dirs()
        files = _find_complete_dir(dirs)
        if files is not None:
            return load_idx_files(files)
        if source == "local":
            raise DatasetNotFoundError(_not_found_message(spec, dirs, source))
    try:
        return _load_with_keras(spec.keras_name)
    except Exception as e:  # keras raises a bare Exception when offline.
        raise DatasetNotFoundError(
            _not_found_message(spec, dirs, source, download_error=e)
        ) from e


def find_idx_files(directory):
    """Finds the four standard IDX files (gzipped or raw) in `directory`.

    Args:
        directory: Directory to look into.

    Returns:
        A `(found, missing)` tuple: `found` maps each file name of
        `IDX_FILE_NAMES` that exists to its path (the raw file is preferred
        over the `.gz` one), `missing` lists the other names.
    """
    found, missing = {}, []
    for name in IDX_FILE_NAMES:
        candidates = (os.path.join(directory, name + ext) for ext in ("", ".gz"))
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    return found, missing


def load_idx_files(files):
    """Reads the four IDX files into the `keras.datasets` format.

    Args:
        files: Dict mapping each name of `IDX_FILE_NAMES` to a file path.

    Returns:
        `(x_train, y_train), (x_test, y_test)` as `uint8` numpy arrays.

    Raises:
        ValueError: If a file is malformed, images are not 3D, labels not 1D,
            or the numbers of images and labels differ.
    """
    x_train = _read_checked(files[TRAIN_IMAGES], ndim=3)
    y_train = _read_checked(files[TRAIN_LABELS], ndim=1)
    x_test = _read_checked(files[TEST_IMAGES], ndim=3)
    y_test = _read_checked(files[TEST_LABELS], ndim=1)
    _check_same_length(x_train, y_train, files[TRAIN_IMAGES], files[TRAIN_LABELS])
    _check_same_length(x_test, y_test, files[TEST_IMAGES], files[TEST_LABELS])
    return (x_train, y_train), (x_test, y_test)


def _check_source(source):
    if source not in VALID_SOURCES:
        raise ValueError(
            f"Invalid value for argument `source`. Expected one of "
            f"{VALID_SOURCES}. Received: source={source!r}"
        )


def _find_complete_dir(dirs):
    """Returns the files of the first directory holding all four, or `None`."""
    for directory in dirs:
        found, missing = find_idx_files(directory)
        if not missing:
            return found
    return None


def _read_checked(path, ndim):
    array = read_idx(path)
    if array.ndim != ndim:
        kind = "images (idx3)" if ndim == 3 else "labels (idx1)"
        raise ValueError(
            f"Invalid IDX file {path}: expected {kind} with {ndim} dimension(s). "
            f"Received: an array of shape {array.shape}."
        )
    return array


def _check_same_length(images, labels, images_path, labels_path):
    if len(images) != len(labels):
        raise ValueError(
            f"The IDX files {images_path} and {labels_path} do not match. "
            "Expected: as many labels as images. "
            f"Received: {len(images)} images and {len(labels)} labels."
        )


def _load_with_keras(keras_name):
    import keras  # Imported lazily: importing keras (and TF) is slow.

    return getattr(keras.datasets, keras_name).load_data()


def _describe_dir(directory):
    if not os.path.exists(directory):
        return f"{directory} (does not exist)"
    if not os.path.isdir(directory):
        return f"{directory} (not a directory)"
    _, missing = find_idx_files(directory)
    return f"{directory} (missing: {', '.join(missing)})"


def _not_found_message(spec, dirs, source, download_error=None):
    name = spec.display_name
    if download_error is None:
        intro = f"Could not find the {name} IDX files (source={source!r})."
    else:
        intro = (
            f"Could not load {name}: the download with "
            f"keras.datasets.{spec.keras_name}.load_data() failed "
            f"({type(download_error).__name__}: {download_error})"
        )
        intro += "." if source == "keras" else " and no local copy was found."
    if dirs:
        searched = "".join(f"\n  - {_describe_dir(d)}" for d in dirs)
    elif source == "keras":
        searched = " none (source='keras')."
    else:
        searched = " none (no `path=` given and no default directory available)."
    fixes = "".join(f"\n  - {line}" for line in spec.how_to_fix)
    return (
        f"{intro}\n"
        f"Files looked for (each gzipped `.gz` or raw): "
        f"{', '.join(IDX_FILE_NAMES)}.\n"
        f"Directories searched:{searched}\n"
        f"To fix this, do one of the following:{fixes}"
    )
