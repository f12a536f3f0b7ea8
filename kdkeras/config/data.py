"""The `data:` section: images or texts, and the tokenizer of texts."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from kdkeras.config.errors import InvalidValue
from kdkeras.config.fields import (
    DATA_SOURCES,
    TEXT_SOURCES,
    Fraction,
    ImageSize,
    PositiveInt,
)
from kdkeras.config.section import Section

_NEEDS_PATH = {
    "npz": "the .npz file",
    "image_folder": "the image folder",
    "text_folder": "the folder of .txt files per class",
}

_FOLDERS = {
    "image_folder": "a folder's training split is reshuffled every epoch, so a "
    "subset would change",
    "text_folder": "its files are read class by class, so the first ones are "
    "of one class",
}
"""The folder sources, and why a subset of their training examples is refused."""


DEFAULT_VOCABULARY_SIZE = 8000
DEFAULT_SEQUENCE_LENGTH = 192


class TokenizerSection(Section):
    """`data.tokenizer:` how texts become token ids (`kdkeras.text.WordTokenizer`).

    Without `path`, the run adapts the tokenizer on its training texts (the
    validation split held out): the `vocabulary_size - 2` most frequent
    words, with `<PAD>` and `<UNKNOWN>`; every text becomes its first
    `sequence_length` ids, padded (null: 8000 and 192). With `path`, the run
    takes the tokenizer kdkeras saved there (`kdkeras.text.load_tokenizer`:
    a device package, the folder of `tools/train_text_teacher.py`, or their
    settings or vocabulary file), the one ready models (`teacher.path`, …)
    were trained with; `vocabulary_size` and `sequence_length` are then
    null or the saved tokenizer's (checked when it is read). The device
    package holds it (`vocab.txt`, `metadata.json`).
    """

    vocabulary_size: Annotated[int, Field(strict=True, ge=3)] | None = None
    sequence_length: PositiveInt | None = None
    path: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults_of_an_adapted_tokenizer(cls, data):
        if not isinstance(data, dict) or data.get("path") is not None:
            return data
        defaults = {
            "vocabulary_size": DEFAULT_VOCABULARY_SIZE,
            "sequence_length": DEFAULT_SEQUENCE_LENGTH,
        }
        return {**data, **{k: v for k, v in defaults.items() if data.get(k) is None}}


class DataSection(Section):
    """`data:` a named set, `.npz` arrays or a folder of images; or texts.

    With a text source (`TEXT_SOURCES`) the models see token ids: the
    `tokenizer` section is filled in with its defaults when absent.
    `spam_assassin` reads the npm tarball of the corpus (or its unpacked
    folder) at `path`, else at `$KDKERAS_SPAM_ASSASSIN`; `text_folder` one
    sub-folder of `.txt` files per class at `path` (`test_path`: the same
    classes, for testing). Every image of an `image_folder` is decoded once
    before training (`kdkeras.pipeline.data_checks`): `on_unreadable: error`
    refuses files that do not decode, naming them; `skip` leaves them out.
    """

    source: Literal[DATA_SOURCES]
    path: str | None = None
    test_path: str | None = None
    validation_split: Fraction = 0.1
    test_split: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    image_size: ImageSize | None = None
    color_mode: Literal["grayscale", "rgb"] = "rgb"
    tokenizer: TokenizerSection | None = None
    max_train_examples: PositiveInt | None = None
    max_test_examples: PositiveInt | None = None
    on_unreadable: Literal["error", "skip"] = "error"

    @property
    def is_text(self):
        """Whether the examples are texts (the models see token ids)."""
        return self.source in TEXT_SOURCES

    @model_validator(mode="before")
    @classmethod
    def _tokenizer_of_texts(cls, data):
        if (
            isinstance(data, dict)
            and data.get("source") in TEXT_SOURCES
            and data.get("tokenizer") is None
        ):
            data = {**data, "tokenizer": {}}
        return data

    @model_validator(mode="after")
    def _check_source_fields(self):
        if self.source in _NEEDS_PATH and self.path is None:
            what = _NEEDS_PATH[self.source]
            raise InvalidValue(
                ("path",), f"{what}, required with source {self.source!r}", None
            )
        if self.source == "image_folder" and self.image_size is None:
            raise InvalidValue(
                ("image_size",),
                "[height, width], required with source 'image_folder' (every "
                "image is resized to it)",
                None,
            )
        if self.image_size is not None and self.source != "image_folder":
            raise InvalidValue(
                ("image_size",),
                f"no image_size with source {self.source!r}: images of a folder "
                "only are resized",
                self.image_size,
            )
        if self.tokenizer is not None and not self.is_text:
            raise InvalidValue(
                ("tokenizer",),
                f"no tokenizer with source {self.source!r}: texts only (source "
                f"{', '.join(repr(name) for name in TEXT_SOURCES)}) are "
                "tokenized",
                self.tokenizer.model_dump(exclude_none=True),
            )
        if self.max_train_examples is not None and self.source in _FOLDERS:
            raise InvalidValue(
                ("max_train_examples",),
                f"no max_train_examples with source {self.source!r}: "
                + _FOLDERS[self.source],
                self.max_train_examples,
            )
        if self.on_unreadable == "skip" and self.source != "image_folder":
            raise InvalidValue(
                ("on_unreadable",),
                f"'error' with source {self.source!r}: the images of an "
                "image_folder only are decoded before training and can be skipped",
                self.on_unreadable,
            )
        if self.test_path is not None and self.source not in _FOLDERS:
            raise InvalidValue(
                ("test_path",),
                "no test_path with source "
                f"{self.source!r}: a folder of test examples is read with source "
                "'image_folder' or 'text_folder' only",
                self.test_path,
            )
        return self
