"""`WordTokenizer`: text to token ids, simple enough for a phone to repeat.

The tokenizer runs outside the model (in Python here, in the app on the
phone), so that the `.tflite` file takes token ids. Its whole definition:

1. lower-case the text (`str.lower()`; Kotlin `lowercase()`, Swift
   `lowercased()`);
2. split it into tokens: every match of `[a-z0-9]+|[$!]`, left to right (a
   run of ASCII letters and digits, or one `$` or `!`); everything else
   separates tokens;
3. map each token to its line number in the vocabulary file (`vocab.txt`,
   UTF-8, one token per line); line 0 is `[PAD]` (id 0), line 1 `[UNK]`
   (id 1, every token not in the file);
4. keep the first `sequence_length` ids and pad with 0 at the end.

`WordTokenizer.adapt` builds the vocabulary from training texts: the
`vocabulary_size - 2` most frequent tokens, ties broken alphabetically.
"""

import collections
import json
import os
import re

import numpy as np

from kdkeras.io_utils import atomic_path
from kdkeras.validation import check_positive_int

PATTERN = r"[a-z0-9]+|[$!]"
"""The regular expression whose matches, on lower-cased text, are the tokens."""

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1
VOCABULARY_FILE = "vocab.txt"
"""The name of the vocabulary file in a device package."""

_TOKEN = re.compile(PATTERN)


def split_words(text):
    """The tokens of `text`: the matches of `PATTERN` in `text.lower()`."""
    return _TOKEN.findall(text.lower())


class WordTokenizer:
    """Lower-case, regex word split, fixed vocabulary, OOV id, fixed length.

    Example:

    ```python
    tokenizer = WordTokenizer.adapt(x_train, vocabulary_size=8000,
                                    sequence_length=256)
    ids = tokenizer(x_train)            # int32, (N, 256)
    kdkeras.export.save_for_device(student, "saved_models/spam", labels,
                                   tokenizer=tokenizer, ...)
    same = WordTokenizer.from_package("saved_models/spam")
    ```

    Args:
        vocabulary: The tokens, id by id: `[PAD]`, `[UNK]`, then the words.
        sequence_length: The number of ids per text (truncated or padded).
    """

    def __init__(self, vocabulary, sequence_length):
        vocabulary = list(vocabulary)
        if vocabulary[:2] != [PAD, UNK]:
            raise ValueError(
                f"`vocabulary` must start with {PAD!r} and {UNK!r} (ids 0 and 1). "
                f"Received: vocabulary starting with {vocabulary[:2]!r}"
            )
        duplicates = [t for t, n in collections.Counter(vocabulary).items() if n > 1]
        bad = [t for t in vocabulary[2:] if not _TOKEN.fullmatch(t)]
        if duplicates or bad:
            raise ValueError(
                "`vocabulary` must hold distinct tokens, each one match of "
                f"{PATTERN!r}. Received duplicates {duplicates[:5]!r} and "
                f"non-tokens {bad[:5]!r}"
            )
        check_positive_int(sequence_length, "sequence_length")
        self.vocabulary = vocabulary
        self.sequence_length = int(sequence_length)
        self._ids = {token: i for i, token in enumerate(vocabulary)}

    @classmethod
    def adapt(cls, texts, vocabulary_size, sequence_length):
        """A tokenizer whose vocabulary holds the most frequent tokens of `texts`.

        Args:
            texts: The training texts.
            vocabulary_size: The number of ids, `[PAD]` and `[UNK]` included.
            sequence_length: The number of ids per text.
        """
        check_positive_int(vocabulary_size, "vocabulary_size")
        if vocabulary_size < 3:
            raise ValueError(
                "`vocabulary_size` must be at least 3 ([PAD], [UNK] and one "
                f"word). Received: vocabulary_size={vocabulary_size}"
            )
        counts = collections.Counter()
        for text in _texts(texts):
            counts.update(split_words(text))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        words = [token for token, _ in ranked[: vocabulary_size - 2]]
        return cls([PAD, UNK, *words], sequence_length)

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def __call__(self, texts):
        """Token ids of `texts`: an `int32` array `(len(texts), sequence_length)`."""
        texts = _texts(texts)
        ids = np.full((len(texts), self.sequence_length), PAD_ID, np.int32)
        for row, text in enumerate(texts):
            tokens = split_words(text)[: self.sequence_length]
            ids[row, : len(tokens)] = [self._ids.get(t, UNK_ID) for t in tokens]
        return ids

    def get_config(self):
        """The settings an app needs, besides the vocabulary file."""
        return {
            "type": "word",
            "lowercase": True,
            "pattern": PATTERN,
            "vocabulary_file": VOCABULARY_FILE,
            "vocabulary_size": self.vocabulary_size,
            "pad_id": PAD_ID,
            "oov_id": UNK_ID,
            "sequence_length": self.sequence_length,
            "truncation": "keep the first sequence_length tokens",
            "padding": "pad_id at the end",
        }

    def describe(self):
        """The preprocessing of a text, in words, for a package's metadata."""
        return {
            "input": "token ids (int32), one row per text",
            "description": (
                "Lower-case the text, take every match of the regular "
                f"expression {PATTERN} as a token, map each token to its line "
                f"number in {VOCABULARY_FILE} ({UNK_ID} if absent), keep the "
                f"first {self.sequence_length} ids and pad with {PAD_ID} at the "
                "end."
            ),
        }

    def save_vocabulary(self, path, overwrite=False):
        """Writes the vocabulary file: one token per line, line number = id."""
        with atomic_path(path, overwrite=overwrite) as temporary_path:
            with open(temporary_path, "w", encoding="utf-8", newline="\n") as file:
                file.writelines(f"{token}\n" for token in self.vocabulary)

    @classmethod
    def from_files(cls, vocabulary_path, config):
        """Rebuilds a tokenizer from its vocabulary file and `get_config()`."""
        with open(vocabulary_path, encoding="utf-8", newline="\n") as file:
            vocabulary = file.read().split("\n")
        if vocabulary and vocabulary[-1] == "":
            vocabulary.pop()
        expected = cls(vocabulary, 1).get_config()
        for key in ("type", "lowercase", "pattern", "pad_id", "oov_id"):
            if config.get(key) != expected[key]:
                raise ValueError(
                    f"The tokenizer's `{key}` must be {expected[key]!r} for a "
                    f"WordTokenizer. Received: {key}={config.get(key)!r}"
                )
        if config.get("vocabulary_size") != len(vocabulary):
            raise ValueError(
                f"{vocabulary_path!r} must hold vocabulary_size="
                f"{config.get('vocabulary_size')} tokens. Received: "
                f"{len(vocabulary)} lines"
            )
        return cls(vocabulary, config["sequence_length"])

    @classmethod
    def from_package(cls, directory):
        """Rebuilds the tokenizer of a device package from its files alone.

        Reads `"tokenizer"` of `metadata.json` and the vocabulary file it
        names (see `kdkeras.export.save_for_device`).
        """
        path = os.path.join(os.fspath(directory), "metadata.json")
        with open(path, encoding="utf-8") as file:
            metadata = json.load(file)
        config = metadata.get("tokenizer")
        if config is None:
            raise ValueError(
                f"{path!r} has no 'tokenizer': the package was written "
                "without `tokenizer=`."
            )
        vocabulary_path = os.path.join(directory, config["vocabulary_file"])
        return cls.from_files(vocabulary_path, config)

    def __eq__(self, other):
        return (
            isinstance(other, WordTokenizer)
            and self.vocabulary == other.vocabulary
            and self.sequence_length == other.sequence_length
        )

    def __repr__(self):
        return (
            f"WordTokenizer(vocabulary_size={self.vocabulary_size}, "
            f"sequence_length={self.sequence_length})"
        )


def _texts(texts):
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            "`texts` must be a list or array of strings, one per example. "
            f"Received: a single {type(texts).__name__}"
        )
    texts = list(texts)
    bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"`texts` must hold strings. Received: {len(bad)} items of type "
            f"{sorted(set(bad))}"
        )
    return texts
