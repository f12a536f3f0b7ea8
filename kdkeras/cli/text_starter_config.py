"""The commented starter config `kdkeras init` writes for a folder of texts.

A folder with one sub-folder of `.txt` files per class (`source:
text_folder`): the config names the folder, its classes, and a
`sequence_length` that holds every token of 90 % of the sampled texts; a
Transformer teacher and an embedding-bag student, as in
`examples/configs/spam_assassin.yaml`.
"""

import math
import os

import numpy as np

from kdkeras.cli.config_sections import (
    closing_sections,
    distill_training_keys,
    scratch_section,
)
from kdkeras.pipeline.folders import class_folders
from kdkeras.pipeline.text_folder import TEXT_SUFFIX

MAX_SEQUENCE_LENGTH = 512
"""The longest `sequence_length` `init` proposes: longer costs the teacher's
attention quadratically."""

_SAMPLED_TEXTS = 500
_COVERED_FRACTION = 0.9

_TEXT_MODELS = """\
data:
  source: text_folder
  path: {path}
  # {num_classes} classes found ({counts}): one UTF-8 .txt file per example.
  validation_split: 0.1   # held out for validation (seeded)
  test_split: 0.2         # held out for the report; or give test_path: FOLDER
  tokenizer:              # kdkeras.text.WordTokenizer, adapted on the training texts
    vocabulary_size: 8000 # <PAD>, <UNKNOWN> and the most frequent words
    # {distinct_words} distinct words in the {num_sampled} texts sampled, of which
    # {covered}% have at most {covering} tokens (median {median}).
    sequence_length: {sequence_length}   # the first ids of a text, padded
    # path: teacher_dir/  # instead, the saved tokenizer of a ready teacher.path
    #                     # (the two sizes above then null, or its own)

teacher:
  # A Transformer over the token ids, trained on the labels; or path: a saved
  # .keras teacher, with the tokenizer it was trained with as
  # data.tokenizer.path (e.g. the folder of tools/train_text_teacher.py).
  transformer:
    embedding_dim: 64
    num_layers: 2
    num_heads: 4          # must divide embedding_dim
    dropout: 0.1
    epochs: 3
    batch_size: 32
    learning_rate: 0.001

student:
  architecture: embedding_bag   # or text_cnn (filters: [32], kernel_size: 3)
  embedding_dim: 8
  hidden_units: [16]            # one hidden layer, or [] for none

"""
"""`data`, `teacher` and `student`, formatted with `describe_text_folder`'s
numbers and the folder's `path`."""

_DISTILL = """\
distill:
  loss: kd               # any kdkeras.losses name: kd, dkd, kd_standardized, …
  # auto: chosen on the validation split by short fits of the student on the
  # teacher's cached logits, starting from the teacher's soft targets; the
  # candidates, their scores and the choice go to the log and the report. The
  # sweep and the full fit cost at most auto_budget x epochs. Or numbers, or
  # a schedule (with a number for the other key):
  alpha: auto            # weight of the label loss
  # alpha: {schedule: linear, start: 1.0, end: 0.1, epochs: 5}
  temperature: auto
  auto_budget: 1.5
  mode: offline          # the teacher's logits cached once; or online
  allow_weak_teacher: false  # true: go on from a teacher at chance or below scratch
"""

_EPOCHS = 12
_BATCH_SIZE = 32


def count_text_files(directory):
    """Class name → the number of `.txt` files in its sub-folder of `directory`."""
    return {
        name: len(_text_files(directory, name)) for name in class_folders(directory)
    }


def describe_text_folder(directory, max_texts=_SAMPLED_TEXTS):
    """What `init` needs to know about a folder of texts.

    Returns:
        A dict: `class_names`, `counts` (`.txt` files per class),
        `num_sampled` (texts read, spread over the classes),
        `distinct_words` (in them, `kdkeras.text.split_words`),
        `median_tokens`, `covering_tokens` (the most tokens of the
        shortest `_COVERED_FRACTION` of them) and `sequence_length`
        (`covering_tokens` rounded up to a multiple of 16, at least 16, at
        most `MAX_SEQUENCE_LENGTH`).

    Raises:
        ValueError: If fewer than two class folders hold `.txt` files.
    """
    from kdkeras.text import split_words

    counts = count_text_files(directory)
    with_texts = [name for name, count in counts.items() if count]
    if len(with_texts) < 2:
        raise ValueError(
            f"`--data` must be a folder with one sub-folder of .txt files per "
            f"class (at least 2). Received: {directory} with sub-folders "
            f"{list(counts)} holding {sum(counts.values())} .txt files"
        )
    per_class = max(1, max_texts // len(with_texts))
    lengths, words = [], set()
    for name in with_texts:
        for path in _text_files(directory, name)[:per_class]:
            with open(path, encoding="utf-8", errors="replace") as file:
                tokens = split_words(file.read())
            lengths.append(len(tokens))
            words.update(tokens)
    covering = math.ceil(np.quantile(lengths, _COVERED_FRACTION))
    return {
        "class_names": list(counts),
        "counts": counts,
        "num_sampled": len(lengths),
        "distinct_words": len(words),
        "median_tokens": math.ceil(np.median(lengths)),
        "covering_tokens": covering,
        "sequence_length": min(
            MAX_SEQUENCE_LENGTH, max(16, 16 * math.ceil(covering / 16))
        ),
    }


def text_starter_config(data_dir, relative_path, name):
    """The config for the folder of texts `data_dir` (after the header).

    Args:
        data_dir: The folder.
        relative_path: `data.path` as the config writes it.
        name: The run's name.
    """
    folder = describe_text_folder(data_dir)
    models = _TEXT_MODELS.format(
        path=relative_path,
        num_classes=len(folder["class_names"]),
        counts=", ".join(f"{n}: {c}" for n, c in folder["counts"].items()),
        distinct_words=f"{folder['distinct_words']:,}",
        num_sampled=folder["num_sampled"],
        sequence_length=folder["sequence_length"],
        covered=round(100 * _COVERED_FRACTION),
        covering=folder["covering_tokens"],
        median=folder["median_tokens"],
    )
    return (
        models
        + scratch_section(_EPOCHS, _BATCH_SIZE)
        + _DISTILL
        + distill_training_keys(_EPOCHS, _BATCH_SIZE, "texts", every_n_epochs=4)
        + "\n"
        + closing_sections(name, "with vocab.txt and the tokenizer in metadata.json")
    )


def _text_files(directory, class_name):
    class_dir = os.path.join(directory, class_name)
    return sorted(
        entry.path
        for entry in os.scandir(class_dir)
        if entry.is_file() and entry.name.endswith(TEXT_SUFFIX)
    )
