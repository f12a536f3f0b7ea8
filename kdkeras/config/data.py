"""The `data:` section: images or texts, and the tokenizer of texts."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from kdkeras.config.errors import InvalidValue
from kdkeras.config.fields import (
    DATA_SOURCES,
    TEXT_DATA_SETS,
    Fraction,
    ImageSize,
    PositiveInt,
)
from kdkeras.config.section import Section


class TokenizerSection(Section):
    """`data.tokenizer:` how texts become token ids (`kdkeras.text.WordTokenizer`).

    The run adapts the tokenizer on its training texts (the validation
    split held out): the `vocabulary_size - 2` most frequent words, with
    `[PAD]` and `[UNK]`; every text becomes its first `sequence_length` ids,
    padded. The device package holds it (`vocab.txt`, `metadata.json`).
    """

    vocabulary_size: Annotated[int, Field(strict=True, ge=3)] = 8000
    sequence_length: PositiveInt = 192


class DataSection(Section):
    """`data:` a named set, `.npz` arrays or a folder of images; or texts.

    With a text source (`TEXT_DATA_SETS`) the models see token ids: the
    `tokenizer` section is filled in with its defaults when absent.
    `spam_assassin` reads the npm tarball of the corpus (or its unpacked
    folder) at `path`, else at `$KDKERAS_SPAM_ASSASSIN`.
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

    @property
    def is_text(self):
        """Whether the examples are texts (the models see token ids)."""
        return self.source in TEXT_DATA_SETS

    @model_validator(mode="before")
    @classmethod
    def _tokenizer_of_texts(cls, data):
        if (
            isinstance(data, dict)
            and data.get("source") in TEXT_DATA_SETS
            and data.get("tokenizer") is None
        ):
            data = {**data, "tokenizer": {}}
        return data

    @model_validator(mode="after")
    def _check_source_fields(self):
        if self.source in ("npz", "image_folder") and self.path is None:
            what = "the .npz file" if self.source == "npz" else "the image folder"
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
                f"{' or '.join(repr(name) for name in TEXT_DATA_SETS)}) are "
                "tokenized",
                self.tokenizer.model_dump(),
            )
        if self.max_train_examples is not None and self.source == "image_folder":
            raise InvalidValue(
                ("max_train_examples",),
                "no max_train_examples with source 'image_folder': a folder's "
                "training split is reshuffled every epoch, so a subset would change",
                self.max_train_examples,
            )
        if self.test_path is not None and self.source != "image_folder":
            raise InvalidValue(
                ("test_path",),
                "no test_path with source "
                f"{self.source!r}: a folder of test images is read with source "
                "'image_folder' only",
                self.test_path,
            )
        return self
