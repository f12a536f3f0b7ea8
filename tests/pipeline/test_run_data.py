"""The run's data: named sets, .npz arrays and image folders, split by seed."""

import json

import numpy as np
import pytest

from kdkeras.config import ConfigError, validate_config
from kdkeras.pipeline.run_data import batched, load_run_data, num_examples


def data_section(**data):
    return validate_config({"data": data}).data


def test_embedded_fashion_mnist_is_split_by_seed():
    section = data_section(
        source="embedded_fashion_mnist",
        max_train_examples=500,
        max_test_examples=50,
        validation_split=0.2,
    )
    data = load_run_data(section, seed=1)
    assert data.input_shape == (28, 28, 1)
    assert data.class_names[0] == "T-shirt/top" and data.num_classes == 10
    assert (num_examples(data.train), num_examples(data.validation)) == (400, 100)
    assert num_examples(data.test) == 50
    again = load_run_data(section, seed=1)
    np.testing.assert_array_equal(again.validation[1], data.validation[1])
    other = load_run_data(section, seed=2)
    assert not np.array_equal(other.validation[1], data.validation[1])


def test_npz_without_a_test_set_is_split_three_ways(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 255, (100, 8, 8), dtype="uint8"),
        y_train=np.arange(100) % 4,
        class_names=np.array(["a", "b", "c", "d"]),
    )
    section = data_section(
        source="npz", path=str(path), validation_split=0.1, test_split=0.2
    )
    data = load_run_data(section, seed=0)
    assert data.class_names == ["a", "b", "c", "d"]
    assert data.input_shape == (8, 8, 1)
    sizes = [num_examples(s) for s in (data.train, data.validation, data.test)]
    assert sizes == [70, 10, 20]
    seen = np.concatenate([data.train[0], data.validation[0], data.test[0]])
    assert len(np.unique(seen.reshape(100, -1), axis=0)) == len(
        np.unique(np.load(path)["x_train"].reshape(100, -1), axis=0)
    )


def test_npz_errors_name_the_key(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((4, 8, 8)), y=np.zeros(4))
    with pytest.raises(ConfigError, match="data.path: expected a .npz file with "):
        load_run_data(data_section(source="npz", path=str(path)), seed=0)
    np.savez(
        path,
        x_train=np.zeros((10, 8, 8)),
        y_train=np.arange(10),
        class_names=np.array(["a", "b"]),
    )
    with pytest.raises(ConfigError, match=r"y_train: expected class ids in \[0, 2\)"):
        load_run_data(data_section(source="npz", path=str(path)), seed=0)


def test_image_folder_splits_and_class_names(image_folder):
    section = data_section(
        source="image_folder",
        path=str(image_folder),
        image_size=[28, 28],
        color_mode="grayscale",
        validation_split=0.25,
        test_split=0.25,
    )
    data = load_run_data(section, seed=0)
    assert data.class_names == ["bag", "sneaker", "trouser"]
    assert data.input_shape == (28, 28, 1) and not data.in_memory
    sizes = [num_examples(s) for s in (data.train, data.validation, data.test)]
    assert sizes == [21, 10, 11]
    # Validation and test do not share an image, and keep their order.
    validation = [x.tobytes() for x, _ in data.validation.as_numpy_iterator()]
    test = [x.tobytes() for x, _ in data.test.as_numpy_iterator()]
    assert not set(validation) & set(test)
    assert [x.tobytes() for x, _ in data.test.as_numpy_iterator()] == test
    images, labels = next(iter(batched(data.train, 8)))
    assert images.shape == (8, 28, 28, 1) and labels.shape == (8,)


def test_image_folder_with_a_test_folder(image_folder, tmp_path):
    section = data_section(
        source="image_folder",
        path=str(image_folder),
        test_path=str(image_folder),
        image_size=[20, 20],
        validation_split=0.1,
    )
    data = load_run_data(section, seed=0)
    assert data.input_shape == (20, 20, 3)
    # Keras holds out int(0.1 × 42) images.
    assert num_examples(data.test) == 42 and num_examples(data.validation) == 4


def test_folder_with_one_class_is_refused(tmp_path):
    (tmp_path / "only").mkdir()
    section = data_section(source="image_folder", path=str(tmp_path), image_size=[8, 8])
    with pytest.raises(ConfigError, match="one sub-folder per class"):
        load_run_data(section, seed=0)


def test_batched_arrays_shuffle_with_the_seed():
    x, y = np.arange(20).reshape(20, 1), np.arange(20)
    first = np.concatenate(
        [b for _, b in batched((x, y), 5, True, 3).as_numpy_iterator()]
    )
    again = np.concatenate(
        [b for _, b in batched((x, y), 5, True, 3).as_numpy_iterator()]
    )
    np.testing.assert_array_equal(first, again)
    assert sorted(first) == list(range(20)) and list(first) != list(range(20))


def test_texts_become_the_ids_of_a_tokenizer_adapted_on_the_training_split():
    section = data_section(
        source="embedded_spam_assassin",
        validation_split=0.1,
        tokenizer={"vocabulary_size": 300, "sequence_length": 32},
    )
    data = load_run_data(section, seed=0)
    assert data.class_names == ["easy ham", "hard ham", "spam"]
    assert data.input_shape == (32,)
    sizes = [num_examples(split) for split in (data.train, data.validation, data.test)]
    assert sizes == [216, 24, 60]
    assert data.train[0].dtype == np.int32 and data.train[0].max() < 300
    # The vocabulary comes from the 216 training texts alone.
    from kdkeras.datasets import load_embedded_spam_assassin

    (texts, _), _ = load_embedded_spam_assassin()
    tokenizer = data.tokenizer
    assert tokenizer.vocabulary_size == 300 and tokenizer.sequence_length == 32
    assert tokenizer != type(tokenizer).adapt(texts, 300, 32)
    np.testing.assert_array_equal(
        load_run_data(section, seed=0).train[0], data.train[0]
    )


def test_texts_become_the_ids_of_the_saved_tokenizer(tmp_path):
    from kdkeras.datasets import load_embedded_spam_assassin
    from kdkeras.text import WordTokenizer

    (texts, _), (test_texts, _) = load_embedded_spam_assassin()
    saved = WordTokenizer.adapt(texts[:50], vocabulary_size=100, sequence_length=16)
    package = tmp_path / "package"
    package.mkdir()
    saved.save_vocabulary(package / "vocab.txt")
    metadata = {
        "labels": ["easy ham", "hard ham", "spam"],
        "tokenizer": saved.get_config(),
    }
    (package / "metadata.json").write_text(json.dumps(metadata))
    section = data_section(
        source="embedded_spam_assassin", tokenizer={"path": str(package)}
    )
    data = load_run_data(section, seed=0)
    assert data.tokenizer == saved and data.input_shape == (16,)
    np.testing.assert_array_equal(data.test[0], saved(test_texts))
