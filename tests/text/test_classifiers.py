"""Tests of kdkeras.text's layers and models over token ids."""

import keras
import numpy as np
import pytest

from kdkeras.text import (
    MaskedMeanPooling,
    PaddingAttentionMask,
    build_embedding_bag,
    build_text_cnn,
    build_text_transformer,
)

SMALL_TRANSFORMER = {"embedding_dim": 8, "num_heads": 2, "num_layers": 1}


def test_masked_mean_pooling_by_hand():
    vectors = np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]], np.float32)
    ids = np.array([[5, 7, 0]], np.int32)
    pooled = keras.ops.convert_to_numpy(MaskedMeanPooling()([vectors, ids]))
    np.testing.assert_allclose(pooled, [[2.0, 3.0]])
    only_padding = MaskedMeanPooling()([vectors, np.zeros((1, 3), np.int32)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(only_padding), [[0, 0]])


def test_padding_attention_mask_hides_padding_keys():
    mask = PaddingAttentionMask()(np.array([[4, 0, 2]], np.int32))
    assert keras.ops.convert_to_numpy(mask).tolist() == [[[True, False, True]] * 3]


def test_transformer_ignores_the_ids_behind_padding_positions():
    model = build_text_transformer(50, 6, 3, **SMALL_TRANSFORMER, dropout=0)
    a = np.array([[5, 6, 7, 0, 0, 0]], np.int32)
    # The same text padded to the same length: only padded positions differ
    # in the attention mask, so the outputs match exactly.
    assert model(a).shape == (1, 3)
    b = np.array([[5, 6, 7, 0, 0, 0], [5, 6, 7, 8, 0, 0]], np.int32)
    out = keras.ops.convert_to_numpy(model(b))
    np.testing.assert_allclose(
        out[0], keras.ops.convert_to_numpy(model(a))[0], atol=1e-5
    )
    assert not np.allclose(out[0], out[1])


@pytest.mark.parametrize(
    ("build", "sizes"),
    [
        (build_text_transformer, SMALL_TRANSFORMER),
        (build_embedding_bag, {}),
        (build_text_cnn, {}),
    ],
)
def test_models_save_and_load(build, sizes, tmp_path):
    model = build(40, 8, 3, **sizes)
    ids = np.random.default_rng(0).integers(0, 40, (4, 8)).astype("int32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(ids, verbose=0), model.predict(ids, verbose=0), atol=1e-6
    )


def test_student_is_ten_times_smaller_than_the_example_teacher():
    teacher = build_text_transformer(8000, 192, 3)
    student = build_embedding_bag(8000, 192, 3, embedding_dim=6)
    assert teacher.count_params() >= 10 * student.count_params()


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match="num_heads"):
        build_text_transformer(10, 4, 3, num_heads=0)
    with pytest.raises(ValueError, match="dropout"):
        build_embedding_bag(10, 4, 3, dropout=2)


def test_distiller_trains_online_on_integer_token_ids():
    from kdkeras.distillation import Distiller

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 40, (32, 8)).astype("int32")
    labels = rng.integers(0, 3, 32)
    teacher = build_text_transformer(40, 8, 3, **SMALL_TRANSFORMER)
    student = build_embedding_bag(40, 8, 3, embedding_dim=4)
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    student_weights = [w.copy() for w in student.get_weights()]
    distiller = Distiller(teacher=teacher, student=student)
    distiller.compile(optimizer="adam", alpha=0.5, temperature=2.0)
    history = distiller.fit(ids, labels, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["distillation_loss"][0] > 0
    for before, after in zip(teacher_weights, teacher.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert any(
        not np.array_equal(before, after)
        for before, after in zip(student_weights, student.get_weights(), strict=True)
    )
