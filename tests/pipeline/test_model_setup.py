"""The run's students: the `student` section built for the data."""

import keras
import pytest

from kdkeras.config import ConfigError, validate_config
from kdkeras.config.schema import RunConfig
from kdkeras.pipeline.model_setup import (
    build_configured_student,
    embedded_ids,
    load_ready_model,
)
from kdkeras.text import WordTokenizer, build_embedding_bag

TOKENIZER = WordTokenizer(["<PAD>", "<UNKNOWN>", *"abcdefgh"], sequence_length=12)


@pytest.mark.parametrize(
    ("student", "layer_names", "num_parameters"),
    [
        # 10 ids × 6 + (6 × 16 + 16) + (16 × 3 + 3)
        (
            {"architecture": "embedding_bag", "embedding_dim": 6, "hidden_units": [16]},
            ["embedding", "global_average_pooling1d", "dense", "logits"],
            223,
        ),
        # 10 ids × 4 + (4 × 3 + 3)
        (
            {"architecture": "embedding_bag", "embedding_dim": 4, "hidden_units": []},
            ["embedding", "global_average_pooling1d", "logits"],
            55,
        ),
        # 10 ids × 4 + (3 × 4 × 5 + 5) + (5 × 3 + 3)
        (
            {"architecture": "text_cnn", "embedding_dim": 4, "filters": [5]},
            ["embedding", "conv1d", "global_max_pooling1d", "logits"],
            123,
        ),
    ],
)
def test_text_students_read_the_tokenizers_ids(student, layer_names, num_parameters):
    config = validate_config(
        {"data": {"source": "embedded_spam_assassin"}, "student": student}
    )
    model = build_configured_student(
        config.student, (12,), 3, "student_scratch", tokenizer=TOKENIZER
    )
    assert model.name == "student_scratch"
    assert tuple(model.input.shape) == (None, 12)
    assert [
        layer.name.rstrip("_0123456789") or layer.name for layer in model.layers[1:]
    ] == [name.rstrip("_0123456789") for name in layer_names]
    assert model.count_params() == num_parameters


def test_a_text_cnn_kernel_longer_than_the_saved_tokenizers_texts_is_refused():
    config = RunConfig.model_validate(
        {
            "data": {"source": "embedded_spam_assassin", "tokenizer": {"path": "t"}},
            "student": {"architecture": "text_cnn", "filters": [4], "kernel_size": 13},
        }
    )
    with pytest.raises(ConfigError) as info:
        build_configured_student(config.student, (12,), 3, "s", tokenizer=TOKENIZER)
    assert info.value.problems == [
        "student.kernel_size: expected at most the tokenizer's sequence_length "
        "(12): the kernel slides over the ids of one text; received 13"
    ]


@pytest.fixture(scope="module")
def ready_text_models(tmp_path_factory):
    """An embedding bag over TOKENIZER's ids, one over 11 ids, one over
    sequences of 8 ids, and the first nested in a Sequential."""
    directory = tmp_path_factory.mktemp("text_models")
    bag = build_embedding_bag(10, 12, 3, embedding_dim=2, hidden_units=None)
    models = {
        "ready": bag,
        "other_vocabulary": build_embedding_bag(11, 12, 3, embedding_dim=2),
        "other_length": build_embedding_bag(10, 8, 3, embedding_dim=2),
        "nested": keras.Sequential([keras.Input((12,), dtype="int32"), bag]),
    }
    for name, model in models.items():
        model.save(directory / f"{name}.keras")
    return directory


def test_a_ready_text_model_takes_the_tokenizers_ids(ready_text_models):
    for name in ("ready", "nested"):
        path = str(ready_text_models / f"{name}.keras")
        model = load_ready_model(path, "teacher.path", (12,), 3, tokenizer=TOKENIZER)
        assert embedded_ids(model) == 10


@pytest.mark.parametrize(
    ("name", "key", "problem"),
    [
        (
            "other_vocabulary",
            "teacher.path",
            "teacher.path: expected a model embedding the tokenizer's 10 token "
            "ids; received {path}, whose Embedding layer takes 11 (the "
            "tokenizer's vocabulary_size differs: data.tokenizer.path must be "
            "the tokenizer the model was trained with)",
        ),
        (
            "other_length",
            "scratch.path",
            "scratch.path: expected a model taking token ids of shape (None, "
            "12); received {path} taking [(None, 8)] (the tokenizer's "
            "sequence_length differs: data.tokenizer.path must be the tokenizer "
            "the model was trained with)",
        ),
    ],
)
def test_a_ready_text_model_of_another_tokenizer_is_refused(
    ready_text_models, name, key, problem
):
    path = str(ready_text_models / f"{name}.keras")
    with pytest.raises(ConfigError) as info:
        load_ready_model(path, key, (12,), 3, tokenizer=TOKENIZER)
    assert info.value.problems == [problem.format(path=path)]
