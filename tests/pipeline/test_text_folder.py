"""Texts of your own: a folder of `.txt` files per class, read into a run."""

import pytest

from kdkeras.config import ConfigError, validate_config
from kdkeras.pipeline.run_data import load_run_data, num_examples
from kdkeras.pipeline.text_folder import read_text_folder

WORDS = {"complaint": "broken late refund", "praise": "great fast thanks"}


def write_text_folder(directory, files_per_class):
    for name, words in WORDS.items():
        (directory / name).mkdir(parents=True)
        for index in range(files_per_class):
            text = f"{words} message {index}\n"
            (directory / name / f"{index:03d}.txt").write_text(text, "utf-8")
    (directory / "praise" / "notes.md").write_text("not an example", "utf-8")
    return directory


def test_the_sub_folders_are_the_classes_and_each_txt_file_an_example(tmp_path):
    folder = write_text_folder(tmp_path / "train", 20)
    write_text_folder(tmp_path / "test", 5)
    config = validate_config(
        {
            "data": {
                "source": "text_folder",
                "path": str(folder),
                "test_path": str(tmp_path / "test"),
                "validation_split": 0.25,
                "tokenizer": {"vocabulary_size": 20, "sequence_length": 6},
            }
        }
    )
    data = load_run_data(config.data, seed=0)
    assert data.class_names == ["complaint", "praise"]
    assert [num_examples(s) for s in (data.train, data.validation, data.test)] == [
        30,
        10,
        10,
    ]
    assert data.input_shape == (6,)
    assert {"broken", "great", "message"} <= set(data.tokenizer.vocabulary)
    ids = data.tokenizer(["great refund"])[0]
    assert list(ids[:2]) == [
        data.tokenizer.vocabulary.index("great"),
        data.tokenizer.vocabulary.index("refund"),
    ]
    assert sorted(data.test[1]) == [0] * 5 + [1] * 5


def test_a_folder_that_is_not_one_of_classes_is_named(tmp_path):
    (tmp_path / "only").mkdir()
    with pytest.raises(ConfigError, match=r"data.path: expected a folder with one"):
        read_text_folder(tmp_path, "data.path")
    (tmp_path / "other").mkdir()
    with pytest.raises(ConfigError, match=r"class folder; .*only has none"):
        read_text_folder(tmp_path, "data.path")
    write_text_folder(tmp_path / "train", 2)
    with pytest.raises(
        ConfigError,
        match=r"data.test_path: expected the classes of data.path, \['a', 'b'\]",
    ):
        read_text_folder(tmp_path / "train", "data.test_path", ["a", "b"])
    (tmp_path / "train" / "praise" / "latin1.txt").write_bytes(b"caf\xe9")
    with pytest.raises(ConfigError, match=r"expected UTF-8 text files; .*latin1"):
        read_text_folder(tmp_path / "train", "data.path")
