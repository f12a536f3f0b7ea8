"""The tokenizer of a text run: saved (`data.tokenizer.path`), checked
against the configured sizes, or adapted on the training texts."""

import json

import pytest

from kdkeras.config import ConfigError
from kdkeras.config.data import TokenizerSection
from kdkeras.pipeline.text_tokenizer import run_tokenizer
from kdkeras.text import SETTINGS_FILE, VOCABULARY_FILE, WordTokenizer

TEXTS = ["free money $ $", "money for you", "free free"]


@pytest.fixture
def saved(tmp_path):
    """A folder as tools/train_text_teacher.py leaves it (without the model)."""
    tokenizer = WordTokenizer(["<PAD>", "<UNKNOWN>", "hello", "world"], 5)
    tokenizer.save_vocabulary(tmp_path / VOCABULARY_FILE)
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(tokenizer.get_config()))
    return tmp_path, tokenizer


def test_without_a_path_the_tokenizer_is_adapted_on_the_training_texts():
    tokenizer = run_tokenizer(
        TokenizerSection(vocabulary_size=4, sequence_length=3), TEXTS
    )
    assert tokenizer == WordTokenizer(["<PAD>", "<UNKNOWN>", "free", "money"], 3)


def test_the_saved_tokenizer_is_taken_as_it_is(saved):
    directory, tokenizer = saved
    assert run_tokenizer(TokenizerSection(path=str(directory)), TEXTS) == tokenizer
    same_sizes = TokenizerSection(
        path=str(directory), vocabulary_size=4, sequence_length=5
    )
    assert run_tokenizer(same_sizes, TEXTS) == tokenizer


@pytest.mark.parametrize(
    ("key", "value", "saved_value"),
    [("vocabulary_size", 8000, 4), ("sequence_length", 192, 5)],
)
def test_sizes_other_than_the_saved_ones_are_refused(saved, key, value, saved_value):
    directory, _ = saved
    with pytest.raises(ConfigError) as info:
        run_tokenizer(TokenizerSection(path=str(directory), **{key: value}), TEXTS)
    assert info.value.problems == [
        f"data.tokenizer.{key}: expected null or {saved_value}, the {key} of the "
        f"saved tokenizer of data.tokenizer.path ({directory}); received {value}"
    ]


def test_a_path_without_a_tokenizer_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        run_tokenizer(TokenizerSection(path=str(tmp_path)), TEXTS)
    [problem] = info.value.problems
    assert problem.startswith(
        "data.tokenizer.path: expected a tokenizer saved by kdkeras (a device "
        "package, or a folder with tokenizer.json and vocab.txt as "
        f"tools/train_text_teacher.py writes); received {tmp_path} (`path` must be"
    )
