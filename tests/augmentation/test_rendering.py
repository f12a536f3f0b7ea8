import keras
import numpy as np
import pytest

from kdkeras import augmentation, batches


def one_view(image, partner=None, **overrides):
    """Renders one (H, W) image with the given parameters (defaults: identity)."""
    parameters = {
        "row_shift": 0,
        "col_shift": 0,
        "flip": 0,
        "partner": 0,
        "mixup_weight": 1.0,
        "box": [0, 0, 0, 0],
        "label_weight": 1.0,
    }
    parameters.update(overrides)
    batch = {
        name: np.asarray([value], "float32" if "weight" in name else "int32")
        for name, value in parameters.items()
    }
    partner = image if partner is None else partner
    rendered = augmentation.render_augmented(
        np.asarray(image, "float32")[None, ..., None],
        np.asarray(partner, "float32")[None, ..., None],
        batch,
    )
    return np.asarray(rendered)[0, ..., 0]


IMAGE = np.arange(1, 10, dtype="float32").reshape(3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]


def test_identity_view_is_the_image():
    np.testing.assert_array_equal(one_view(IMAGE), IMAGE)


def test_shift_down_and_right_fills_zeros():
    np.testing.assert_array_equal(
        one_view(IMAGE, row_shift=1, col_shift=1), [[0, 0, 0], [0, 1, 2], [0, 4, 5]]
    )
    np.testing.assert_array_equal(
        one_view(IMAGE, row_shift=-1), [[4, 5, 6], [7, 8, 9], [0, 0, 0]]
    )


def test_shift_then_flip():
    np.testing.assert_array_equal(one_view(IMAGE, flip=1), IMAGE[:, ::-1])
    # view[r, c] = x[r, (W - 1 - c) - col_shift]: shifted right, then flipped.
    np.testing.assert_array_equal(
        one_view(IMAGE, flip=1, col_shift=1), [[2, 1, 0], [5, 4, 0], [8, 7, 0]]
    )


def test_mixup_and_cutmix_by_hand():
    partner = np.full((3, 3), 10.0, "float32")
    np.testing.assert_allclose(
        one_view(IMAGE, partner, mixup_weight=0.25), 0.25 * IMAGE + 0.75 * 10.0
    )
    # Box rows [0, 2), cols [1, 3) comes from the partner.
    expected = IMAGE.copy()
    expected[0:2, 1:3] = 10.0
    np.testing.assert_array_equal(one_view(IMAGE, partner, box=[0, 1, 2, 3]), expected)


def test_plan_draws_the_same_views_every_time_and_new_ones_per_epoch():
    plan = augmentation.AugmentationPlan(
        shift=2, mixup_alpha=0.2, cutmix_alpha=1.0, seed=3
    )
    first = plan.draw(100, (28, 28), epochs=3)
    again = augmentation.AugmentationPlan.from_config(plan.get_config()).draw(
        100, (28, 28), epochs=3
    )
    for name in augmentation.PARAMETER_NAMES:
        np.testing.assert_array_equal(first[name], again[name])
    assert first["row_shift"].shape == (3, 100)
    assert first["box"].shape == (3, 100, 4)
    assert not np.array_equal(first["row_shift"][0], first["row_shift"][1])
    # Epoch 2 alone equals epoch 2 of a longer draw.
    later = plan.draw(100, (28, 28), epochs=1, first_epoch=2)
    np.testing.assert_array_equal(later["partner"][0], first["partner"][2])
    assert np.abs(first["row_shift"]).max() <= 2
    # Cutmix views: the label weight is the kept area's fraction.
    top, left, bottom, right = np.moveaxis(first["box"], -1, 0)
    area = (bottom - top) * (right - left)
    boxed = area > 0
    assert boxed.any() and (first["mixup_weight"] < 1).any()
    np.testing.assert_allclose(
        first["label_weight"][boxed], 1 - area[boxed] / 784, rtol=1e-6
    )


def test_plan_without_mixing_keeps_partners_and_weights():
    parameters = augmentation.AugmentationPlan(shift=0, horizontal_flip=False).draw(
        10, (5, 5), 2
    )
    np.testing.assert_array_equal(parameters["partner"], np.tile(np.arange(10), (2, 1)))
    assert (parameters["mixup_weight"] == 1).all() and (parameters["flip"] == 0).all()


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"shift": -1}, "`shift` must be >= 0"),
        ({"shift": 1.5}, "`shift` must be an int"),
        ({"mixup_alpha": -0.1}, "`mixup_alpha` must be a finite number"),
        ({"cutmix_alpha": float("nan")}, "`cutmix_alpha` must be a finite number"),
        ({"mix_probability": 2}, "`mix_probability` must be in"),
        ({"seed": -1}, "`seed` must be an int"),
    ],
)
def test_bad_plans_are_refused(arguments, message):
    with pytest.raises((TypeError, ValueError), match=message):
        augmentation.AugmentationPlan(**arguments)


def test_dataset_replays_each_epoch_with_mixed_labels():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (10, 6, 6), dtype=np.uint8)
    y = np.arange(10) % 3
    plan = augmentation.AugmentationPlan(shift=1, mixup_alpha=0.5, seed=1)
    parameters = plan.draw(10, (6, 6), epochs=2)
    dataset = augmentation.augmented_dataset(
        x, y, parameters, batch_size=4, num_classes=3
    )
    epoch_batches = list(dataset.as_numpy_iterator())
    assert [len(b[0]) for b in epoch_batches] == [4, 4, 2, 4, 4, 2]
    assert batches.steps_per_epoch(10, 4) == 3
    # Rebuild the first batch by hand from its order and parameters.
    order = np.random.default_rng([0, 0, 1]).permutation(10)[:4]
    row = {name: value[0][order] for name, value in parameters.items()}
    expected_views = np.asarray(
        augmentation.render_augmented(
            x[order][..., None], x[row["partner"]][..., None], row
        )
    )[..., 0]
    np.testing.assert_array_equal(epoch_batches[0][0], expected_views)
    one_hot = np.eye(3)[y]
    weight = row["label_weight"][:, None]
    expected_labels = weight * one_hot[order] + (1 - weight) * one_hot[row["partner"]]
    np.testing.assert_allclose(epoch_batches[0][1], expected_labels, rtol=1e-6)
    np.testing.assert_allclose(epoch_batches[0][1].sum(axis=1), 1.0, rtol=1e-6)


def test_mixed_views_need_a_class_count():
    parameters = augmentation.AugmentationPlan(mixup_alpha=1.0).draw(4, (5, 5), 1)
    with pytest.raises(ValueError, match="pass `num_classes`"):
        augmentation.augmented_dataset(np.zeros((4, 5, 5)), np.arange(4), parameters)


def test_parameters_for_other_images_are_refused():
    parameters = augmentation.AugmentationPlan().draw(4, (5, 5), 1)
    with pytest.raises(ValueError, match="drawn for 4 images; `x` holds 5"):
        augmentation.augmented_dataset(np.zeros((5, 5, 5)), np.arange(5), parameters)


class RecordingModel(keras.Model):
    """Records the first pixel of every batch it is trained on (eagerly)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.seen = []

    def call(self, inputs):
        return self.dense(keras.ops.reshape(inputs, (keras.ops.shape(inputs)[0], -1)))

    def train_step(self, data):
        views_batch = data[0] if isinstance(data, tuple) else data
        self.seen.append(keras.ops.convert_to_numpy(views_batch)[:, 0, 0].tolist())
        return {"batches": len(self.seen)}


@pytest.mark.tensorflow
def test_fit_epoch_e_sees_the_stored_epoch_e():
    # One image whose corner pixel tells the epoch: the plan shifts it by a
    # different row per epoch (zero fill), so the corner is 0 or the pixel.
    x = np.zeros((2, 3, 3), "float32")
    x[:, 0, 0] = 5.0
    parameters = augmentation.AugmentationPlan(shift=0, horizontal_flip=False).draw(
        2, (3, 3), 3
    )
    parameters["row_shift"][1] = 1  # epoch 1 only: the corner moves away
    dataset = augmentation.augmented_dataset(
        x, None, parameters, batch_size=2, shuffle=False
    )
    model = RecordingModel()
    model.compile(optimizer="sgd", run_eagerly=True)
    model.fit(
        dataset, epochs=4, steps_per_epoch=batches.steps_per_epoch(2, 2), verbose=0
    )
    # Epochs 0, 1, 2 are the stored ones; epoch 3 starts again at stored epoch 0.
    assert model.seen == [[5.0, 5.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]]
