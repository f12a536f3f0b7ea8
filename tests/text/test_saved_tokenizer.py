"""`kdkeras.text.load_tokenizer`: a saved `WordTokenizer` from a device
package, a teacher's folder, its settings or its vocabulary file."""

import json

import pytest

from kdkeras.text import SETTINGS_FILE, VOCABULARY_FILE, WordTokenizer, load_tokenizer

TOKENIZER = WordTokenizer(["<PAD>", "<UNKNOWN>", "free", "money", "Free"], 7)


def write_json(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def saved_like_the_teacher_tool(directory):
    """`tokenizer.json` and `vocab.txt`, as tools/train_text_teacher.py writes."""
    directory.mkdir()
    TOKENIZER.save_vocabulary(directory / VOCABULARY_FILE)
    write_json(directory / SETTINGS_FILE, TOKENIZER.get_config())
    return directory


def saved_like_a_package(directory):
    """`metadata.json` with a "tokenizer" and `vocab.txt` (save_for_device)."""
    directory.mkdir()
    TOKENIZER.save_vocabulary(directory / VOCABULARY_FILE)
    write_json(
        directory / "metadata.json",
        {"labels": ["ham", "spam"], "tokenizer": TOKENIZER.get_config()},
    )
    return directory


@pytest.mark.parametrize("save", [saved_like_the_teacher_tool, saved_like_a_package])
def test_a_folder_its_settings_and_its_vocabulary_give_the_saved_tokenizer(
    save, tmp_path
):
    directory = save(tmp_path / "saved")
    settings = next(
        path for path in directory.iterdir() if path.name != VOCABULARY_FILE
    )
    for path in (directory, str(directory), settings, directory / VOCABULARY_FILE):
        tokenizer = load_tokenizer(path)
        assert tokenizer == TOKENIZER
        assert tokenizer(["free money! Free"]).tolist() == [[2, 3, 4, 0, 0, 0, 0]]


def test_a_package_is_read_before_a_settings_file_beside_it(tmp_path):
    directory = saved_like_a_package(tmp_path / "package")
    other = WordTokenizer(TOKENIZER.vocabulary, 3).get_config()
    write_json(directory / SETTINGS_FILE, other)
    assert load_tokenizer(directory).sequence_length == 7
    assert load_tokenizer(directory / SETTINGS_FILE).sequence_length == 3


def test_what_holds_no_tokenizer_is_refused(tmp_path):
    with pytest.raises(ValueError, match="must exist"):
        load_tokenizer(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="folder with metadata.json or tokenizer"):
        load_tokenizer(tmp_path / "empty")
    vocabulary = tmp_path / "alone" / VOCABULARY_FILE
    vocabulary.parent.mkdir()
    TOKENIZER.save_vocabulary(vocabulary)
    with pytest.raises(ValueError, match="the vocabulary alone has no sequence_length"):
        load_tokenizer(vocabulary)
    metadata = write_json(tmp_path / "alone" / "metadata.json", {"labels": ["a"]})
    with pytest.raises(ValueError, match="which holds neither"):
        load_tokenizer(metadata)
    with pytest.raises(ValueError, match="naming a vocabulary file"):
        load_tokenizer(tmp_path / "alone")


def test_settings_that_do_not_match_their_files_are_refused(tmp_path):
    directory = saved_like_the_teacher_tool(tmp_path / "saved")
    settings = TOKENIZER.get_config()
    write_json(directory / SETTINGS_FILE, {**settings, "vocabulary_size": 6})
    with pytest.raises(ValueError, match="must hold vocabulary_size=6 tokens"):
        load_tokenizer(directory)
    del settings["sequence_length"]
    write_json(directory / SETTINGS_FILE, settings)
    with pytest.raises(ValueError, match=r"must hold \['sequence_length'\]"):
        load_tokenizer(directory)
    (directory / SETTINGS_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_tokenizer(directory)
