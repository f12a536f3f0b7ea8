"""Tests of kdkeras.text.WordTokenizer and the device package's tokenizer."""

import json

import numpy as np
import pytest

from kdkeras.datasets import SPAM_ASSASSIN_CLASS_NAMES, load_embedded_spam_assassin
from kdkeras.text import WordTokenizer, build_embedding_bag, split_words


def test_split_words_splits_at_anything_but_ascii_letters_and_digits():
    # MediaPipe's regex tokenizer with delimiter [^A-Za-z0-9]+: no case
    # change, `$` and `!` and non-ASCII letters separate, the text ends at NUL.
    assert split_words("FREE $$$ money!! Call 0800-NOW, café\0 after") == [
        "FREE", "money", "Call", "0800", "NOW", "caf",
    ]  # fmt: skip
    assert split_words("") == split_words(" ,; ") == []
    assert split_words("a") == ["a"] and split_words("-a-b-") == ["a", "b"]


def test_ids_by_hand_with_oov_truncation_and_padding():
    tokenizer = WordTokenizer(["<PAD>", "<UNKNOWN>", "free", "money", "Free"], 4)
    ids = tokenizer(["Free money", "free $ for YOU now", "", "FREE"])
    assert ids.dtype == np.int32
    assert ids.tolist() == [[4, 3, 0, 0], [2, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 0]]


def test_adapt_ranks_by_count_then_alphabetically():
    tokenizer = WordTokenizer.adapt(["b a c", "c b", "c d B"], 5, 3)
    assert tokenizer.vocabulary == ["<PAD>", "<UNKNOWN>", "c", "b", "B"]


@pytest.mark.parametrize(
    ("vocabulary", "match"),
    [
        (["free", "<UNKNOWN>"], "must start with"),
        (["[PAD]", "[UNK]", "a"], "must start with"),
        (["<PAD>", "<UNKNOWN>", "a", "a"], "duplicates \\['a'\\]"),
        (["<PAD>", "<UNKNOWN>", "Two words"], "non-tokens \\['Two words'\\]"),
        (["<PAD>", "<UNKNOWN>", "$"], "non-tokens \\['\\$'\\]"),
    ],
)
def test_bad_vocabularies_are_refused(vocabulary, match):
    with pytest.raises(ValueError, match=match):
        WordTokenizer(vocabulary, 8)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sequence_length"):
        WordTokenizer(["<PAD>", "<UNKNOWN>"], 0)
    with pytest.raises(ValueError, match="vocabulary_size"):
        WordTokenizer.adapt(["a"], 2, 4)
    with pytest.raises(TypeError, match="`texts` must be a list"):
        WordTokenizer(["<PAD>", "<UNKNOWN>"], 2)("one text")


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
    with pytest.raises(ValueError, match="`delimiter`"):
        WordTokenizer.from_files(
            tmp_path / "vocab.txt", {**config, "delimiter": r"\s+"}
        )


def test_vocabulary_file_is_mediapipes_token_id_lines(tmp_path):
    tokenizer = WordTokenizer(["<PAD>", "<UNKNOWN>", "free", "Money"], 8)
    tokenizer.save_vocabulary(tmp_path / "vocab.txt")
    assert (tmp_path / "vocab.txt").read_bytes() == (
        b"<PAD> 0\n<UNKNOWN> 1\nfree 2\nMoney 3\n"
    )
    assert tokenizer.mediapipe_tokenizer() == {
        "delim_regex_pattern": "[^A-Za-z0-9]+",
        "vocab_file": "vocab.txt",
    }
    config = tokenizer.get_config()
    (tmp_path / "vocab.txt").write_text("<PAD> 0\n<UNKNOWN> 1\nMoney 3\nfree 2\n")
    with pytest.raises(ValueError, match="line 3 'Money 3'"):
        WordTokenizer.from_files(tmp_path / "vocab.txt", config)


def test_the_lower_casing_tokenizer_of_earlier_packages_is_named(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nfree\n")
    old = {"type": "word", "lowercase": True, "pattern": "[a-z0-9]+|[$!]"}
    with pytest.raises(ValueError, match="type.*'word'.*Re-adapt"):
        WordTokenizer.from_files(tmp_path / "vocab.txt", old)


@pytest.mark.tensorflow
def test_device_package_tokenizer_gives_the_ids_the_model_saw(tmp_path):
    import keras

    from kdkeras.export import load_device_metadata, save_for_device
    from kdkeras.litert import LiteRTModel

    (x_train, y_train), (x_test, _) = load_embedded_spam_assassin()
    tokenizer = WordTokenizer.adapt(x_train, 300, 24)
    ids_train, ids_test = tokenizer(x_train), tokenizer(x_test)
    model = build_embedding_bag(300, 24, 3, embedding_dim=4, hidden_units=None)
    # Trained, so that the agreement below compares real decisions.
    keras.utils.set_random_seed(0)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(ids_train, y_train, epochs=40, batch_size=32, verbose=0)
    assert len(set(model.predict(ids_test, verbose=0).argmax(-1))) == 3
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
    assert "[^A-Za-z0-9]+" in metadata["preprocessing"]["description"]
    # The file embeds the vocabulary and MediaPipe's tokenizer options.
    int8_entry = metadata["variants"]["int8"]
    assert int8_entry["mediapipe"] == {
        "file": "model_int8.tflite",
        "task": "TextClassifier",
        "input_color": None,
    }
    embedded_input = int8_entry["embedded_metadata"]["input"]
    assert embedded_input["tokenizer"] == tokenizer.mediapipe_tokenizer()
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
            tokenizer=WordTokenizer(["<PAD>", "<UNKNOWN>", "a"], 16),
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
