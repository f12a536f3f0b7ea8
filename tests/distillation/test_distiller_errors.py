import keras
import numpy as np
import pytest

import kdkeras
from kdkeras import losses


def test_teacher_and_student_must_have_the_same_classes(dense_model):
    with pytest.raises(ValueError, match="teacher with 5 outputs, student with 3"):
        kdkeras.Distiller(dense_model(5), dense_model(3))


def test_offline_logits_must_have_the_students_classes(dense_model):
    distiller = kdkeras.Distiller(None, dense_model(3))
    distiller.compile()
    x = np.ones((4, 4), "float32")
    with pytest.raises(ValueError, match="teacher_logits with 5 classes"):
        distiller.fit(x, (np.zeros(4), np.zeros((4, 5), "float32")), verbose=0)


def test_student_must_output_logits(dense_model):
    with pytest.raises(ValueError, match="`student` must output logits"):
        kdkeras.Distiller(dense_model(3), dense_model(3, activation="softmax"))


def test_models_must_be_keras_models(dense_model):
    with pytest.raises(TypeError, match="`student` must be a `keras.Model`"):
        kdkeras.Distiller(dense_model(3), "student")
    with pytest.raises(TypeError, match="`teacher` must be a `keras.Model`"):
        kdkeras.Distiller(lambda x: x, dense_model(3))


def test_subclassed_teacher_needs_declared_outputs(dense_model):
    class Teacher(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, inputs):
            return self.dense(inputs)

    with pytest.raises(ValueError, match='teacher_outputs="logits"'):
        kdkeras.Distiller(Teacher(), dense_model(3))
    distiller = kdkeras.Distiller(Teacher(), dense_model(3), teacher_outputs="logits")
    distiller.compile()
    distiller.fit(np.ones((4, 4)), np.zeros(4), verbose=0)


def test_invalid_teacher_outputs(dense_model):
    with pytest.raises(ValueError, match="teacher_outputs='scores'"):
        kdkeras.Distiller(dense_model(3), dense_model(3), teacher_outputs="scores")


@pytest.mark.parametrize("temperature", [0, -2.0])
def test_temperature_must_be_positive(dense_model, temperature):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match=f"temperature={temperature}"):
        distiller.compile(temperature=temperature)


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_alpha_must_be_in_unit_interval(dense_model, alpha):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match=rf"`alpha` must be in \[0, 1\]. .*{alpha}"):
        distiller.compile(alpha=alpha)


def test_compiles_temperature_is_the_temperature(dense_model):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    # The objective owns it: the loss's own only counts without one.
    distiller.compile(distillation_loss_fn=losses.KDLoss(2.0), temperature=4)
    assert distiller.temperature == 4.0
    with pytest.raises(ValueError, match="takes no temperature"):
        distiller.compile(distillation_loss_fn="logit_mse", temperature=4)
    distiller.compile(distillation_loss_fn=losses.KDLoss(2.0))
    assert distiller.temperature == 2.0


def test_probability_student_loss_is_refused(dense_model):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match="from_logits=False"):
        distiller.compile(student_loss_fn=keras.losses.SparseCategoricalCrossentropy())


def test_unknown_distillation_loss_lists_names(dense_model):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match=r"'kd'.*distillation_loss_fn='kdd'"):
        distiller.compile(distillation_loss_fn="kdd")


def test_loss_argument_is_refused(dense_model):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match="not `loss`"):
        distiller.compile(loss="mse")


def test_labels_out_of_range(small_cnn, digits):
    x, y = digits
    distiller = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4))
    distiller.compile()
    with pytest.raises(ValueError, match=r"class ids in \[0, 10\).*\[12"):
        distiller.fit(x[:32], np.full(32, 12), verbose=0)


def test_one_hot_labels_of_the_wrong_width(small_cnn, digits):
    x, _ = digits
    distiller = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4))
    distiller.compile()
    with pytest.raises(ValueError, match="must have 10 columns"):
        distiller.fit(x[:32], np.zeros((32, 7), "float32"), verbose=0)


def test_non_finite_loss_stops_with_a_clear_error(small_cnn, digits):
    x, y = digits
    x = x[:64].copy()
    x[3, 0, 0, 0] = np.nan
    distiller = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4))
    distiller.compile()
    # NumPy inputs are refused before training; a generator is only read
    # inside the step, where the loss is checked.
    with pytest.raises(ValueError, match="`x` must be finite. Received 1 NaN"):
        distiller.fit(x, y[:64], batch_size=64, verbose=0)
    with pytest.raises(kdkeras.NonFiniteLossError, match="non-finite at batch 0"):
        distiller.fit((batch for batch in [(x, y[:64])]), verbose=0)


def test_offline_batches_must_carry_teacher_logits(dense_model):
    distiller = kdkeras.Distiller(None, dense_model(3))
    distiller.compile()
    with pytest.raises(ValueError, match=r"y=\(labels, teacher_logits\)"):
        distiller.fit(np.ones((4, 4)), np.zeros(4), verbose=0)


def test_fractional_labels_are_refused_before_training(small_cnn, digits):
    x, _ = digits
    distiller = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4))
    distiller.compile()
    weights = distiller.student.get_weights()
    with pytest.raises(ValueError, match=r"whole class ids.*\[3\.5\]"):
        distiller.fit(x[:4], np.array([1.0, 3.5, 2.0, 0.0]), verbose=0)
    for before, after in zip(weights, distiller.student.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


def test_labels_out_of_range_in_a_dataset(small_cnn, digits):
    import tensorflow as tf

    x, _ = digits
    dataset = tf.data.Dataset.from_tensor_slices((x[:8], np.full(8, -1))).batch(4)
    # One Distiller per call: on JAX, Keras leaves the variables of a model
    # whose `fit` or `evaluate` raised mid-way unsynced.
    for method, pattern in (("fit", r"\[-1"), ("evaluate", r"")):
        distiller = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4))
        distiller.compile()
        with pytest.raises(ValueError, match=r"class ids in \[0, 10\).*" + pattern):
            getattr(distiller, method)(dataset, verbose=0)


@pytest.mark.tensorflow
def test_a_dataset_given_again_keeps_its_checked_pipeline(small_cnn, digits):
    import tensorflow as tf

    from kdkeras.distillation import inputs

    x, y = digits
    good = tf.data.Dataset.from_tensor_slices((x[:8], y[:8])).batch(4)
    bad = tf.data.Dataset.from_tensor_slices((x[:8], np.full(8, 12))).batch(4)
    datasets = inputs.CheckedDatasets()
    first = datasets.checked(good, 10, "x")
    # The same dataset again: the same checked pipeline, not a new map to
    # trace; another dataset, class count or role: a new one.
    assert datasets.checked(good, 10, "x") is first
    assert datasets.checked(good, 9, "x") is not first
    assert datasets.checked(bad, 10, "x") is not datasets.checked(good, 10, "x")
    assert datasets.checked(good, 10, "evaluate") is not datasets.checked(good, 10, "x")
    # Through fit: the second fit on the same dataset reuses it and a bad
    # dataset after it is still checked.
    distiller = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4))
    distiller.compile()
    distiller.fit(good, verbose=0)
    reused = distiller._checked_datasets.checked(good, 10, "x")
    distiller.fit(good, verbose=0)
    assert distiller._checked_datasets.checked(good, 10, "x") is reused
    with pytest.raises(ValueError, match=r"class ids in \[0, 10\).*\[12"):
        distiller.fit(bad, verbose=0)


def test_validation_labels_are_checked(small_cnn, digits):
    x, y = digits
    distiller = kdkeras.Distiller(small_cnn(seed=1), small_cnn(filters=4))
    distiller.compile()
    with pytest.raises(ValueError, match="validation_data"):
        distiller.fit(
            x[:8], y[:8], validation_data=(x[:4], np.full(4, 10.5)), verbose=0
        )


def test_probability_loss_named_by_string_is_refused(dense_model):
    distiller = kdkeras.Distiller(dense_model(3), dense_model(3))
    with pytest.raises(ValueError, match="from_logits=False"):
        distiller.compile(student_loss_fn="sparse_categorical_crossentropy")


def _two_outputs(name):
    inputs = keras.Input((4,))
    return keras.Model(
        inputs,
        [keras.layers.Dense(3)(inputs), keras.layers.Dense(2)(inputs)],
        name=name,
    )


def test_models_with_two_outputs_are_refused(dense_model):
    with pytest.raises(ValueError, match=r"`teacher` must have one output.*2 outputs"):
        kdkeras.Distiller(
            _two_outputs("teacher"), dense_model(3), teacher_outputs="logits"
        )
    with pytest.raises(ValueError, match=r"`student` must have one output"):
        kdkeras.Distiller(dense_model(3), _two_outputs("student"))


def test_softmax_teacher_declared_as_logits_warns(dense_model):
    with pytest.warns(UserWarning, match="ends in a softmax"):
        kdkeras.Distiller(
            dense_model(3, activation="softmax"),
            dense_model(3),
            teacher_outputs="logits",
        )


@pytest.mark.tensorflow
def test_an_offline_dataset_is_not_checked_twice(small_cnn, digits):
    """`caches.offline_dataset` checks its labels when it is built; the
    Distiller takes that very dataset as it is (no map stage per batch), and
    checks anything derived from it, or a student with fewer classes."""
    from kdkeras.distillation import inputs

    x, y = digits
    logits = np.zeros((16, 10), "float32")
    dataset = kdkeras.caches.offline_dataset(x[:16], y[:16], logits, batch_size=8)
    assert inputs.checked(dataset, None, 10) is dataset
    assert inputs.checked(dataset, None, 12) is dataset
    assert inputs.checked(dataset, None, 9) is not dataset
    derived = dataset.take(1)
    assert inputs.checked(derived, None, 10) is not derived
    with pytest.raises(ValueError, match=r"class ids in \[0, 10\).*\[12"):
        kdkeras.caches.offline_dataset(x[:2], np.array([1, 12]), logits[:2])
    # It trains as before.
    distiller = kdkeras.Distiller(None, small_cnn(filters=4))
    distiller.compile()
    history = distiller.fit(dataset, verbose=0)
    assert np.isfinite(history.history["loss"][0])
