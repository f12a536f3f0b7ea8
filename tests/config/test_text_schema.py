"""The text keys of the schema: `data.tokenizer`, `teacher.transformer` and
the text students, each error naming the key path, the expectation and the
received value."""

import pytest

from kdkeras.config import ConfigError, validate_config
from kdkeras.config.schema import RunConfig, TokenizerSection, TransformerSection

TEXT = {
    "data": {"source": "embedded_spam_assassin"},
    "student": {"architecture": "embedding_bag", "hidden_units": [16]},
}


def problems_of(data):
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return info.value.problems


def schema_of(data):
    """The `RunConfig` of `data`, its paths not resolved (nor checked)."""
    return RunConfig.model_validate(data)


def text_config(**sections):
    return {
        **TEXT,
        **{name: {**TEXT.get(name, {}), **keys} for name, keys in sections.items()},
    }


def test_text_data_fill_in_the_tokenizer_and_the_text_models():
    config = validate_config({"data": {"source": "spam_assassin"}})
    assert config.student.architecture == "embedding_bag"
    assert config.data.is_text
    assert config.data.tokenizer == TokenizerSection()
    assert (
        config.data.tokenizer.vocabulary_size,
        config.data.tokenizer.sequence_length,
    ) == (8000, 192)
    assert config.teacher.transformer == TransformerSection()
    assert config.teacher.transformer.builder_arguments()["feedforward_dim"] == 128
    assert validate_config({"data": {"source": "mnist"}}).teacher.transformer is None


def test_an_image_student_is_refused_for_texts_and_a_text_student_for_images():
    [problem] = problems_of(
        {"data": {"source": "spam_assassin"}, "student": {"architecture": "cnn"}}
    )
    assert problem == (
        "student.architecture: expected a text student with data.source "
        "'spam_assassin', one of ['embedding_bag', 'text_cnn'] (received: 'cnn')"
    )
    [problem] = problems_of(
        {
            "data": {"source": "mnist"},
            "student": {"architecture": "text_cnn", "filters": [32]},
        }
    )
    assert problem.startswith(
        "student.architecture: expected an image student with data.source 'mnist'"
    )


def test_tokenizer_keys_are_checked_and_misspellings_suggested():
    [problem] = problems_of(text_config(data={"tokenizer": {"vocabulary_size": 2}}))
    assert problem == (
        "data.tokenizer.vocabulary_size: Input should be greater than or equal "
        "to 3 (received: 2)"
    )
    [problem] = problems_of(text_config(data={"tokenizer": {"sequence_lenght": 64}}))
    assert problem.startswith(
        "data.tokenizer.sequence_lenght: unknown key (received: 64)"
    )
    assert problem.endswith(
        "Valid keys: path, sequence_length, vocabulary_size; did you mean "
        "'sequence_length'?"
    )


def test_a_tokenizer_needs_texts():
    [problem] = problems_of(
        {"data": {"source": "mnist", "tokenizer": {"sequence_length": 64}}}
    )
    assert problem == (
        "data.tokenizer: expected no tokenizer with source 'mnist': texts only "
        "(source 'embedded_spam_assassin', 'spam_assassin', 'text_folder') are "
        "tokenized "
        "(received: {'vocabulary_size': 8000, 'sequence_length': 64})"
    )


def test_transformer_keys_are_checked():
    [problem] = problems_of(text_config(teacher={"transformer": {"num_heads": 5}}))
    assert problem == (
        "teacher.transformer.num_heads: expected a divisor of embedding_dim (64): "
        "each head attends over embedding_dim / num_heads dimensions (received: 5)"
    )
    [problem] = problems_of(text_config(teacher={"transformer": {"layers": 1}}))
    assert problem.startswith("teacher.transformer.layers: unknown key")
    assert problem.endswith("did you mean 'num_layers'?")
    [problem] = problems_of(
        {"data": {"source": "mnist"}, "teacher": {"transformer": {"epochs": 1}}}
    )
    assert problem.startswith(
        "teacher.transformer: expected null with data.source 'mnist'"
    )


def test_text_students_have_one_layer_of_their_kind():
    [problem] = problems_of(text_config(student={"hidden_units": [16, 8]}))
    assert problem.startswith(
        "student.hidden_units: expected at most one number for 'embedding_bag'"
    )
    cnn = {"architecture": "text_cnn", "filters": [32], "kernel_size": 65}
    config = validate_config(text_config(student={**cnn, "kernel_size": 5}))
    assert config.student.kernel_size == 5
    [problem] = problems_of(
        text_config(data={"tokenizer": {"sequence_length": 64}}, student=cnn)
    )
    assert problem == (
        "student.kernel_size: expected at most data.tokenizer.sequence_length "
        "(64): the kernel slides over the ids of one text (received: 65)"
    )
    [problem] = problems_of(text_config(student={**cnn, "filters": [8, 16]}))
    assert problem.startswith("student.filters: expected one number for 'text_cnn'")


def test_a_saved_tokenizer_leaves_its_sizes_to_its_files():
    config = schema_of(text_config(data={"tokenizer": {"path": "saved"}}))
    assert config.data.tokenizer == TokenizerSection(path="saved")
    assert config.data.tokenizer.vocabulary_size is None
    assert config.data.tokenizer.sequence_length is None
    # Given, they are checked against the files when the run reads them.
    config = schema_of(
        text_config(data={"tokenizer": {"path": "saved", "sequence_length": 64}})
    )
    assert config.data.tokenizer.sequence_length == 64
    # A null size without a path is the default.
    config = schema_of(text_config(data={"tokenizer": {"vocabulary_size": None}}))
    assert config.data.tokenizer.vocabulary_size == 8000
    # The kernel is checked against the saved length when the run builds it.
    cnn = {"architecture": "text_cnn", "filters": [8], "kernel_size": 500}
    config = schema_of(text_config(data={"tokenizer": {"path": "saved"}}, student=cnn))
    assert config.student.kernel_size == 500


@pytest.mark.parametrize(
    ("section", "keys"),
    [
        ("teacher", {"path": "teacher.keras"}),
        ("teacher", {"paths": ["a.keras", "b.keras"]}),
        ("scratch", {"path": "scratch.keras"}),
        ("distill", {"student_path": "student.keras"}),
    ],
)
def test_ready_text_models_come_with_their_tokenizer(section, keys):
    [(key, value)] = keys.items()
    [problem] = problems_of({**TEXT, section: keys})
    assert problem == (
        f"{section}.{key}: expected null with text data (data.source "
        "'embedded_spam_assassin') unless data.tokenizer.path names the saved "
        "tokenizer whose ids the model was trained on (without it the run adapts "
        f"a new tokenizer) (received: {value!r})"
    )
    config = schema_of(
        text_config(data={"tokenizer": {"path": "saved"}}, **{section: keys})
    )
    assert getattr(getattr(config, section), key) == value


@pytest.mark.parametrize(
    ("section", "keys", "path"),
    [
        ("teacher", {"path": "teacher.keras"}, "teacher.path"),
        ("scratch", {"path": "scratch.keras"}, "scratch.path"),
        ("augmentation", {"shift": 2}, "augmentation"),
        ("optimize", {"method": "prune"}, "optimize"),
    ],
)
def test_what_texts_cannot_take_is_refused(section, keys, path):
    [problem] = problems_of({**TEXT, section: keys})
    assert problem.startswith(
        f"{path}: expected null with text data (data.source 'embedded_spam_assassin')"
    )


def test_a_text_folder_needs_its_path_and_is_not_cut_to_its_first_files():
    [problem] = problems_of({"data": {"source": "text_folder"}})
    assert problem == (
        "data.path: expected the folder of .txt files per class, required with "
        "source 'text_folder' (received: None)"
    )
    folder = {"source": "text_folder", "path": ".", "max_train_examples": 10}
    [problem] = problems_of({"data": folder})
    assert problem == (
        "data.max_train_examples: expected no max_train_examples with source "
        "'text_folder': its files are read class by class, so the first ones "
        "are of one class (received: 10)"
    )
    config = validate_config({"data": {**folder, "max_train_examples": None}})
    assert config.data.is_text and config.student.architecture == "embedding_bag"
