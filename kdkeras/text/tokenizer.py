"""`WordTokenizer`: text to token ids, exactly as MediaPipe Tasks makes them.

The tokenizer runs outside the model (in Python here, in the app on the
phone), so that the `.tflite` file takes token ids. Its whole definition is
that of the regex tokenizer of MediaPipe Tasks' `TextClassifier` (and of
the TFLite Task Library's `NLClassifier`), so an app that runs a kdkeras
text package through it, with no code of its own, gets the ids the model
was trained on:

1. split the text at every match of `[^A-Za-z0-9]+` (anything but ASCII
   letters and digits); the tokens are the non-empty pieces between the
   matches, left to right, as written (no case folding: `Free` and `free`
   are two tokens); the text ends at its first NUL character, if any;
2. map each token to its id in the vocabulary file (`vocab.txt`, UTF-8, a
   line `token id` per token); `<PAD>` is id 0, `<UNKNOWN>` id 1, the id of
   every token not in the file;
3. keep the first `sequence_length` ids and pad with 0 at the end.

MediaPipe's delimiter split cannot make a token of a character it drops, so
`$` and `!` are separators; and it does not change case, so neither does
this tokenizer. On SpamAssassin a bag-of-words classifier over these tokens
is as accurate as over the earlier lower-cased tokens that kept `$` and `!`
(0.973 and 0.972 on the 1,200 test e-mails with 8,000 ids; 0.955 and 0.961
with 500: `benchmarks/tokenizer_choice.py`).

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

DELIMITER = r"[^A-Za-z0-9]+"
"""The regular expression whose matches separate the tokens (MediaPipe's
`delim_regex_pattern`)."""

PAD, UNK = "<PAD>", "<UNKNOWN>"
PAD_ID, UNK_ID = 0, 1
VOCABULARY_FILE = "vocab.txt"
"""The name of the vocabulary file in a device package (and in its files)."""

_DELIMITER = re.compile(DELIMITER)
_TOKEN = re.compile(r"[A-Za-z0-9]+")


def split_words(text):
    """The tokens of `text`: the non-empty pieces between matches of `DELIMITER`."""
    text = text.split("\0", 1)[0]
    return [token for token in _DELIMITER.split(text) if token]


class WordTokenizer:
    """Delimiter split, fixed vocabulary, OOV id, fixed length: MediaPipe's.

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
        vocabulary: The tokens, id by id: `<PAD>`, `<UNKNOWN>`, then the words.
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
                "`vocabulary` must hold distinct tokens, each a run of ASCII "
                f"letters and digits. Received duplicates {duplicates[:5]!r} and "
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
            vocabulary_size: The number of ids, `<PAD>` and `<UNKNOWN>` included.
            sequence_length: The number of ids per text.
        """
        check_positive_int(vocabulary_size, "vocabulary_size")
        if vocabulary_size < 3:
            raise ValueError(
                "`vocabulary_size` must be at least 3 (<PAD>, <UNKNOWN> and one "
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
            "type": "delimiter_split",
            "delimiter": DELIMITER,
            "lowercase": False,
            "vocabulary_file": VOCABULARY_FILE,
            "vocabulary_format": "a line 'token id' per token",
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
                f"Split the text at every match of the regular expression "
                f"{DELIMITER} (no case change), map each piece to its id in "
                f"{VOCABULARY_FILE} (lines 'token id'; {UNK_ID} if absent), keep "
                f"the first {self.sequence_length} ids and pad with {PAD_ID} at "
                "the end: MediaPipe's regex tokenizer, embedded in the file."
            ),
        }

    def mediapipe_tokenizer(self):
        """The `RegexTokenizerOptions` the `.tflite` metadata embeds."""
        return {"delim_regex_pattern": DELIMITER, "vocab_file": VOCABULARY_FILE}

    def vocabulary_text(self):
        """The vocabulary file's content: a line `token id` per token."""
        return "".join(f"{token} {i}\n" for i, token in enumerate(self.vocabulary))

    def save_vocabulary(self, path, overwrite=False):
        """Writes the vocabulary file (`vocabulary_text`)."""
        with atomic_path(path, overwrite=overwrite) as temporary_path:
            with open(temporary_path, "w", encoding="utf-8", newline="\n") as file:
                file.write(self.vocabulary_text())

    @classmethod
    def from_files(cls, vocabulary_path, config):
        """Rebuilds a tokenizer from its vocabulary file and `get_config()`."""
        expected = cls([PAD, UNK], 1).get_config()
        if config.get("type") == "word":
            raise ValueError(
                "The tokenizer's `type` is 'word': the lower-casing tokenizer of "
                "kdkeras before its tokens became MediaPipe's. Re-adapt the "
                "tokenizer and retrain, or use the kdkeras that wrote it. "
                f"Received: settings for {vocabulary_path!r}"
            )
        for key in ("type", "delimiter", "lowercase", "pad_id", "oov_id"):
            if config.get(key) != expected[key]:
                raise ValueError(
                    f"The tokenizer's `{key}` must be {expected[key]!r} for a "
                    f"WordTokenizer. Received: {key}={config.get(key)!r}"
                )
        with open(vocabulary_path, encoding="utf-8", newline="\n") as file:
            lines = file.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        vocabulary = []
        for number, line in enumerate(lines):
            token, _, token_id = line.rpartition(" ")
            if token_id != str(number):
                shown = line if len(line) <= 40 else line[:40] + "…"
                raise ValueError(
                    f"{vocabulary_path!r} must hold a line 'token id' per token, "
                    f"ids 0, 1, 2, … in order. Received: line {number + 1} "
                    f"{shown!r}"
                )
            vocabulary.append(token)
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
