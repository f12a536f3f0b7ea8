"""The run's students: the `student` section built for the data."""

import pytest

from kdkeras.config import validate_config
from kdkeras.pipeline.models import build_configured_student
from kdkeras.text import WordTokenizer

TOKENIZER = WordTokenizer(["[PAD]", "[UNK]", *"abcdefgh"], sequence_length=12)


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
