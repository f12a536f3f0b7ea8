"""Tests of kdkeras.text.WordTokenizer and the device package's tokenizer."""

import json

import numpy as np
import pytest

from kdkeras.datasets import SPAM_ASSASSIN_CLASS_NAMES, load_embedded_spam_assassin
from kdkeras.text import WordTokenizer, build_embedding_bag, split_words


def test_split_words_lower_cases_and_keeps_dollars_and_bangs():
    assert split_words("FREE $$$ money!! Call 0800-NOW, café") == [
        "free", "$", "$", "$", "money", "!", "!", "call", "0800", "now", "caf",
    ]  # fmt: skip


def test_ids_by_hand_with_oov_truncation_and_padding():
    tokenizer = WordTokenizer(["[PAD]", "[UNK]", "free", "money", "$"], 4)
    ids = tokenizer(["Free money", "free $ for YOU now", ""])
    assert ids.dtype == np.int32
    assert ids.tolist() == [[2, 3, 0, 0], [2, 4, 1, 1], [0, 0, 0, 0]]


def test_adapt_ranks_by_count_then_alphabetically():
    tokenizer = WordTokenizer.adapt(["b a c", "c b", "c d"], 5, 3)
    assert tokenizer.vocabulary == ["[PAD]", "[UNK]", "c", "b", "a"]


@pytest.mark.parametrize(
    ("vocabulary", "match"),
    [
        (["free", "[UNK]"], "must start with"),
        (["[PAD]", "[UNK]", "a", "a"], "duplicates \\['a'\\]"),
        (["[PAD]", "[UNK]", "Two words"], "non-tokens \\['Two words'\\]"),
    ],
)
def test_bad_vocabularies_are_refused(vocabulary, match):
    with pytest.raises(ValueError, match=match):
        WordTokenizer(vocabulary, 8)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sequence_length"):
        WordTokenizer(["[PAD]", "[UNK]"], 0)
    with pytest.raises(ValueError, match="vocabulary_size"):
        WordTokenizer.adapt(["a"], 2, 4)
    with pytest.raises(TypeError, match="`texts` must be a list"):
        WordTokenizer(["[PAD]", "[UNK]"], 2)("one text")


def test_vocabulary_file_and_config_round_trip(tmp_path):
    (x_train, _), (x_test, _) = load_embedded_spam_assassin()
    tokenizer = WordTokenizer.adapt(x_train, 500, 32)
    tokenizer.save_vocabulary(tmp_path / "vocab.txt")
    config = json.loads(json.dumps(tokenizer.get_config()))
    again = WordTokenizer.from_files(tmp_path / "vocab.txt", config)
    assert again == tokenizer
    np.testing.assert_array_equal(again(x_test), tokenizer(x_test))
    with pytest.raises(ValueError, match="vocabulary_size=499"):
        WordTokenizer.from_files(
            tmp_path / "vocab.txt", {**config, "vocabulary_size": 499}
        )
    with pytest.raises(ValueError, match="`pattern`"):
        WordTokenizer.from_files(tmp_path / "vocab.txt", {**config, "pattern": r"\w+"})


@pytest.mark.tensorflow
def test_device_package_tokenizer_gives_the_ids_the_model_saw(tmp_path):
    from kdkeras.export import load_device_metadata, save_for_device
    from kdkeras.litert import LiteRTModel

    (x_train, _), (x_test, _) = load_embedded_spam_assassin()
    tokenizer = WordTokenizer.adapt(x_train, 300, 24)
    ids_train, ids_test = tokenizer(x_train), tokenizer(x_test)
    model = build_embedding_bag(300, 24, 3, embedding_dim=4, hidden_units=None)
    paths = save_for_device(
        model,
        tmp_path,
        SPAM_ASSASSIN_CLASS_NAMES,
        representative_data=ids_train[:50],
        quantizations=("int8",),
        tokenizer=tokenizer,
    )
    assert paths["vocabulary"] == str(tmp_path / "vocab.txt")
    # Rebuilt from the package's files alone: the ids the model saw.
    package_tokenizer = WordTokenizer.from_package(tmp_path)
    np.testing.assert_array_equal(package_tokenizer(x_test), ids_test)
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["tokenizer"] == tokenizer.get_config()
    assert "lower-case" in metadata["preprocessing"]["description"].lower()
    (int8,) = load_device_metadata(tmp_path).values()
    assert int8.tokenizer["sequence_length"] == 24
    assert int8.input_dtype == "int32" and int8.input_shape == [1, 24]
    # The int8 file takes the ids as they are and agrees with Keras.
    litert = LiteRTModel(paths["tflite"]["int8"]).predict(ids_test, verbose=0)
    keras_logits = model.predict(ids_test, verbose=0)
    assert (litert.argmax(-1) == keras_logits.argmax(-1)).mean() >= 0.95


@pytest.mark.tensorflow
def test_tokenizer_that_does_not_fit_the_model_is_refused(tmp_path):
    from kdkeras.export import save_for_device

    model = build_embedding_bag(300, 24, 3)
    with pytest.raises(ValueError, match="tokenizer.sequence_length=16"):
        save_for_device(
            model,
            tmp_path,
            SPAM_ASSASSIN_CLASS_NAMES,
            quantizations=("float32",),
            tokenizer=WordTokenizer(["[PAD]", "[UNK]", "a"], 16),
        )
    with pytest.raises(TypeError, match="`tokenizer` must be a kdkeras.text"):
        save_for_device(
            model,
            tmp_path,
            SPAM_ASSASSIN_CLASS_NAMES,
            quantizations=("float32",),
            tokenizer={"vocab": []},
        )
    assert not list(tmp_path.iterdir())
