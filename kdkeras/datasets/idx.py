"""Reader for the IDX file format used by MNIST and Fashion-MNIST.

An IDX file starts with a 4-byte magic number (two zero bytes, a data type code
and the number of dimensions), followed by one big-endian 32-bit size per
dimension and then the raw data. Only unsigned bytes (type code `0x08`) with one
dimension (labels, "idx1") or three dimensions (images, "idx3") are supported,
which covers every MNIST-style dataset.
"""

import gzip
import os

import numpy as np

_GZIP_MAGIC = b"\x1f\x8b"
# Magic number -> number of dimensions.
_SUPPORTED_MAGICS = {0x00000801: 1, 0x00000803: 3}


def read_idx(path):
    """Reads an IDX file (labels `idx1` or images `idx3`) into a numpy array.

    The file may be gzipped or raw: the compression is detected from the
    content, so `train-images-idx3-ubyte.gz` and `train-images-idx3-ubyte`
    are both read correctly whatever their names.

    Args:
        path: Path (string or `os.PathLike`) of the IDX file.

    Returns:
        A writable `uint8` numpy array: shape `(num_labels,)` for an `idx1`
        label file, `(num_images, rows, cols)` for an `idx3` image file.

    Raises:
        ValueError: If the file is not a valid `uint8` idx1/idx3 file, i.e. its
            magic number is wrong or its size does not match its header.
        FileNotFoundError: If `path` does not exist.

    Example:

    >>> labels = read_idx("/usr/share/datasets/fashion-mnist/"
    ...                   "t10k-labels-idx1-ubyte.gz")
    >>> labels.shape
    (10000,)
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    shape, header_size = _parse_header(path, data)
    expected_size = header_size + int(np.prod(shape))
    if len(data) != expected_size:
        raise ValueError(
            f"Invalid IDX file {path}: its header declares the shape {shape}, "
            f"so the file should hold {expected_size} bytes (after "
            f"decompression). Expected: {expected_size} bytes. "
            f"Received: {len(data)} bytes."
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header_size)
    return array.reshape(shape).copy()


def _read_bytes(path):
    """Returns the (decompressed) content of `path`."""
    with open(path, "rb") as f:
        is_gzipped = f.read(2) == _GZIP_MAGIC
    if not is_gzipped:
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:
        raise ValueError(
            f"Invalid IDX file {path}: it starts like a gzip file but cannot "
            f"be decompressed. Expected: a valid gzip stream. Received: {e}"
        ) from e


def _parse_header(path, data):
    """Returns `(shape, header_size)` after validating the magic number."""
    if len(data) < 4:
        raise ValueError(
            f"Invalid IDX file {path}: it is too short to hold a magic number. "
            f"Expected: at least 4 bytes. Received: {len(data)} bytes."
        )
    magic = int.from_bytes(data[:4], "big")
    if magic not in _SUPPORTED_MAGICS:
        raise ValueError(
            f"Invalid IDX file {path}: unsupported magic number. Expected: "
            "2049 (0x00000801, uint8 labels, idx1) or 2051 (0x00000803, uint8 "
            f"images, idx3). Received: {magic} (0x{magic:08x})."
        )
    ndim = _SUPPORTED_MAGICS[magic]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"Invalid IDX file {path}: the header is truncated. Expected: at "
            f"least {header_size} bytes. Received: {len(data)} bytes."
        )
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    return shape, header_size
