"""Metadata inside a `.tflite` file: written atomically, read back, checked.

A model file with metadata, as MediaPipe Tasks and the TFLite Task Library
read it, is:

```
the model flatbuffer (TFL3)   with a buffer holding the metadata flatbuffer
                              (`kdkeras.export.tflite_metadata`), named
                              "TFLITE_METADATA" in the model's `metadata`
a zip archive, appended       the associated files (labels.txt, vocab.txt),
                              stored uncompressed
```

A zip archive is read from its end, so the whole file is both a valid
`.tflite` (the interpreter reads the flatbuffer from the start) and a valid
zip (`zipfile.ZipFile(path)` lists the associated files).

`write_metadata` puts the metadata and the files into a `.tflite` file; the
file keeps its name only once it has been re-read, its metadata parsed back
equal to what was written, its files read back equal, and the model still
gives the outputs it gave before (and, given a Keras model, agrees with it).
"""

import io
import os
import zipfile

import numpy as np
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.tools import flatbuffer_utils

from kdkeras.export import tflite_metadata
from kdkeras.export.converter_errors import ExportError
from kdkeras.io_utils import atomic_path
from kdkeras.litert.litert_model import LiteRTModel

METADATA_BUFFER_NAME = "TFLITE_METADATA"
"""The name of the model's metadata entry whose buffer holds the metadata."""


def _model_bytes(data):
    """The model flatbuffer of a file's bytes, without an appended zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            start = min(
                (info.header_offset for info in archive.infolist()), default=len(data)
            )
    except zipfile.BadZipFile:
        return data
    return data[:start]


def embed(model_data, description, files):
    """The bytes of a `.tflite` model with `description` and `files` inside.

    Args:
        model_data: The bytes of a `.tflite` file (a metadata buffer it has
            already is replaced, an appended zip dropped).
        description: The metadata description (see
            `kdkeras.export.tflite_metadata`).
        files: A dict from associated file name (as the description names
            them) to its `bytes`.
    """
    model = flatbuffer_utils.read_model_from_bytearray(
        bytearray(_model_bytes(model_data))
    )
    buffer = tflite_schema.BufferT()
    buffer.data = np.frombuffer(tflite_metadata.build_metadata(description), np.uint8)
    entries = [m for m in model.metadata or [] if _name(m) != METADATA_BUFFER_NAME]
    entry = tflite_schema.MetadataT()
    entry.name = METADATA_BUFFER_NAME
    # An old metadata buffer stays (unreferenced): buffer indices are kept.
    model.buffers.append(buffer)
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*entries, entry]
    output = io.BytesIO(flatbuffer_utils.convert_object_to_bytearray(model))
    output.seek(0, io.SEEK_END)
    # Appended to a non-zip file, the archive records absolute offsets.
    with zipfile.ZipFile(output, "a", compression=zipfile.ZIP_STORED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return output.getvalue()


def _name(metadata_entry):
    name = metadata_entry.name
    return name.decode("utf-8") if isinstance(name, bytes) else name


def read_metadata(path):
    """What a `.tflite` file holds: `(description, files)`.

    Returns:
        The parsed metadata description, or `None` if the file has none, and
        a dict from associated file name to its `bytes` (empty if none).
    """
    with open(path, "rb") as file:
        data = file.read()
    model = tflite_schema.Model.GetRootAs(data, 0)
    description = None
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode("utf-8") == METADATA_BUFFER_NAME:
            buffer = model.Buffers(entry.Buffer()).DataAsNumpy()
            description = tflite_metadata.parse_metadata(buffer.tobytes())
    files = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
    except zipfile.BadZipFile:
        pass
    return description, files


def write_metadata(path, description, files, examples=None, keras_model=None):
    """Puts `description` and `files` into the `.tflite` file at `path`.

    The new file is written beside `path` and replaces it only once checked:
    re-read, its metadata is parsed back equal to `description` and its
    associated files equal to `files`; and on `examples` (model inputs) it
    gives the outputs the file gave without metadata, and, with
    `keras_model`, the top-1 class of `keras_model` wherever the file
    without metadata did.

    Raises:
        ExportError: If a check fails; `path` is then left as it was.
    """
    path = os.fspath(path)
    before = (
        None
        if examples is None
        else LiteRTModel(path).predict(examples, batch_size=1, verbose=0)
    )
    with open(path, "rb") as file:
        data = embed(file.read(), description, files)
    with atomic_path(path, overwrite=True) as temporary_path:
        with open(temporary_path, "wb") as file:
            file.write(data)
        check_metadata(temporary_path, description, files)
        if examples is not None:
            _check_outputs(temporary_path, before, examples, keras_model)
    return path


def check_metadata(path, description, files):
    """Raises `ExportError` unless the file at `path` holds exactly
    `description` and `files`."""
    try:
        read_description, read_files = read_metadata(path)
    except Exception as error:
        raise ExportError(
            f"The metadata written into {path!r} cannot be read back: "
            f"{type(error).__name__}: {error}"
        ) from error
    if read_description != description:
        raise ExportError(
            f"The metadata read back from {path!r} differs from what was "
            f"written: {read_description!r} instead of {description!r}"
        )
    if read_files != files:
        raise ExportError(
            f"The associated files read back from {path!r} differ from those "
            f"written: {sorted(read_files)} instead of {sorted(files)}"
        )


def _check_outputs(path, before, examples, keras_model):
    try:
        after = LiteRTModel(path).predict(examples, batch_size=1, verbose=0)
    except Exception as error:
        raise ExportError(
            f"The LiteRT file with metadata does not run: {type(error).__name__}: "
            f"{error}"
        ) from error
    if not np.array_equal(after, before):
        raise ExportError(
            "The LiteRT file gives other outputs once its metadata is written "
            f"(by up to {np.abs(np.asarray(after) - before).max():.3g})."
        )
    if keras_model is not None:
        keras_top1 = keras_model.predict(examples, verbose=0).argmax(-1)
        agreed_before = np.asarray(before).argmax(-1) == keras_top1
        agreed_after = np.asarray(after).argmax(-1) == keras_top1
        if (agreed_before & ~agreed_after).any():
            raise ExportError(
                "The LiteRT file with metadata disagrees with Keras on inputs "
                "where the file without metadata agreed."
            )
