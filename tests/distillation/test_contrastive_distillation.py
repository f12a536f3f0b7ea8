"""The Distiller with CRD (`ContrastiveRepresentation`): training on real
digits, example indices (NumPy, `tf.data`, given), the memory banks' saving
and restoring, and the errors."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from model_helpers import embedding_mlp

import kdkeras
from kdkeras.distillation import example_index

NUM_EXAMPLES = 128


def _crd(**kwargs):
    kwargs = {
        "num_examples": NUM_EXAMPLES,
        "embedding_dim": 16,
        "num_negatives": 32,
        "seed": 0,
        **kwargs,
    }
    return kdkeras.losses.ContrastiveRepresentation(
        "teacher_embedding", "student_embedding", **kwargs
    )


def _distiller(seed=2, **kwargs):
    distiller = kdkeras.Distiller(
        embedding_mlp(32, 1, "teacher"),
        embedding_mlp(8, seed, "student"),
        features=[_crd(**kwargs)],
    )
    distiller.compile(optimizer=keras.optimizers.Adam(0.01), alpha=0.5)
    return distiller


def _data(digits, count=NUM_EXAMPLES):
    x, y = digits
    return x[:count].reshape(count, -1), y[:count]


def _banks(distiller):
    crd = distiller.features[0]
    return [
        keras.ops.convert_to_numpy(v).copy()
        for v in (crd.teacher_bank, crd.student_bank, crd.log_normalizers)
    ]


def test_crd_trains_and_the_student_stays_plain(digits, tmp_path):
    x, y = _data(digits)
    distiller = _distiller()
    crd = distiller.features[0]
    heads = [
        keras.ops.convert_to_numpy(h.kernel).copy()
        for h in (crd.teacher_head, crd.student_head)
    ]
    banks = _banks(distiller)
    logs = distiller.fit(x, y, batch_size=32, epochs=6, verbose=0).history
    feature_loss = logs["feature_loss"]
    assert np.isfinite(logs["loss"]).all() and np.isfinite(feature_loss).all()
    assert feature_loss[-1] < feature_loss[0]
    # Both heads trained; every row of both banks moved and is a unit vector.
    for head, before in zip((crd.teacher_head, crd.student_head), heads, strict=True):
        assert not np.allclose(keras.ops.convert_to_numpy(head.kernel), before)
    for bank, before in zip(_banks(distiller)[:2], banks[:2], strict=True):
        assert not np.isclose(bank, before).all(axis=1).any()
        np.testing.assert_allclose(np.linalg.norm(bank, axis=1), 1.0, rtol=1e-5)
    # The banks and heads live in the Distiller, not in the student.
    assert len(distiller.student.weights) == 4
    assert not any("bank" in w.path for w in distiller.student.weights)
    path = tmp_path / "student.keras"
    distiller.student.save(path)
    assert len(keras.saving.load_model(path).weights) == 4
    assert {"teacher_bank", "student_bank"} <= {
        w.name for w in distiller.non_trainable_weights
    }


def test_the_bank_changes_only_at_the_indices_of_the_batch(digits):
    x, y = _data(digits, 16)
    index = np.arange(16) * 7 + 3  # own indices, up to 108 < 128
    distiller = _distiller()
    before = _banks(distiller)
    distiller.fit(
        x,
        {"targets": y, "example_index": index},
        batch_size=16,
        epochs=1,
        verbose=0,
    )
    after = _banks(distiller)
    untouched = np.setdiff1d(np.arange(NUM_EXAMPLES), index)
    for bank, old in zip(after[:2], before[:2], strict=True):
        np.testing.assert_array_equal(bank[untouched], old[untouched])
        assert not np.isclose(bank[index], old[index]).all(axis=1).any()
    assert np.isfinite(after[2]).all() and not np.allclose(after[2], 0.0)


def test_numpy_indices_are_the_rows_of_x(digits):
    """`fit` numbers the rows of `x`; with `validation_split`, the training part."""
    x, y = _data(digits, 48)
    distiller = _distiller()
    before = _banks(distiller)
    distiller.fit(x, y, batch_size=16, epochs=1, validation_split=0.25, verbose=0)
    after = _banks(distiller)
    for bank, old in zip(after[:2], before[:2], strict=True):
        changed = ~np.isclose(bank, old).all(axis=1)
        np.testing.assert_array_equal(np.flatnonzero(changed), np.arange(36))
    # Evaluation needs no indices and leaves the banks alone.
    results = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert np.isfinite(results["loss"])
    for bank, old in zip(_banks(distiller), after, strict=True):
        np.testing.assert_array_equal(bank, old)


def test_a_dataset_numbered_before_shuffling(digits):
    x, y = _data(digits)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    numbered = kdkeras.distillation.with_example_index(dataset)
    first = next(iter(numbered.skip(5)))
    assert int(first[1]["example_index"]) == 5 and int(first[1]["targets"]) == y[5]
    distiller = _distiller()
    before = _banks(distiller)
    logs = distiller.fit(
        numbered.shuffle(NUM_EXAMPLES, seed=0).batch(32), epochs=2, verbose=0
    ).history
    assert np.isfinite(logs["feature_loss"]).all()
    for bank, old in zip(_banks(distiller)[:2], before[:2], strict=True):
        assert not np.isclose(bank, old).all(axis=1).any()


def test_errors(digits):
    x, y = _data(digits)
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    distiller = _distiller()
    with pytest.raises(ValueError, match="ContrastiveRepresentation .* needs each"):
        distiller.fit(dataset.batch(32), epochs=1, verbose=0)
    # More examples than the banks' rows.
    with pytest.raises(ValueError, match=r"indices must be in \[0, num_examples\)"):
        distiller.fit(*_data(digits, NUM_EXAMPLES + 1), batch_size=32, verbose=0)
    with pytest.raises(ValueError, match=r"num_examples=128\). Received indices"):
        distiller.fit(
            x[:4], {"targets": y[:4], "example_index": np.array([0, 1, 2, 128])}
        )
    big = tf.data.Dataset.from_tensor_slices((*_data(digits, 160),))
    with pytest.raises(ValueError, match="Example indices must be in"):
        distiller.fit(
            kdkeras.distillation.with_example_index(big).batch(32),
            epochs=1,
            verbose=0,
        )
    with pytest.raises(ValueError, match="`with_example_index` numbers a dataset"):
        kdkeras.distillation.with_example_index(tf.data.Dataset.range(3))
    # Without a teacher, CRD needs the stored features' shapes.
    with pytest.raises(ValueError, match="needs their shapes: `teacher_feature_shap"):
        kdkeras.Distiller(None, embedding_mlp(8, 2, "student"), features=[_crd()])
    # A batch without indices, here from a PyDataset, names the method.
    with pytest.raises(ValueError, match="ContrastiveRepresentation .* needs each"):
        distiller.fit(_Batches(x, y), epochs=1, verbose=0)


class _Batches(keras.utils.PyDataset):
    """Two batches of `(x, y)`, without example indices."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return 2

    def __getitem__(self, index):
        batch = slice(32 * index, 32 * (index + 1))
        return self.x[batch], self.y[batch]


def test_other_methods_get_no_indices(digits):
    x, y = _data(digits, 8)
    hint = kdkeras.distillation.Hint("teacher_embedding", "student_embedding")
    assert example_index.attached([hint], x, y) == (x, y)
    assert example_index.attached(None, x, y) == (x, y)
    _, wrapped = example_index.attached([_crd()], x, y)
    np.testing.assert_array_equal(wrapped["example_index"], np.arange(8))
    assert wrapped["targets"] is y


def test_config_and_saving_round_trip(digits, tmp_path):
    x, y = _data(digits)
    distiller = _distiller()
    distiller.fit(x, y, batch_size=32, epochs=1, verbose=0)
    config = distiller.get_config()
    rebuilt = kdkeras.Distiller.from_config(config)
    assert rebuilt.features[0].get_config() == distiller.features[0].get_config()

    path = tmp_path / "distiller.keras"
    distiller.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.features[0], kdkeras.losses.ContrastiveRepresentation)
    for value, expected in zip(_banks(restored), _banks(distiller), strict=True):
        np.testing.assert_array_equal(value, expected)
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), distiller.predict(x, verbose=0), rtol=1e-6
    )
    restored.fit(x, y, batch_size=32, epochs=1, verbose=0)


class _Interrupt(keras.callbacks.Callback):
    """After BackupAndRestore in the list: raises once epoch 1 is backed up."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            self.banks = _banks(self.model)
            raise RuntimeError("interrupted")


class _Record(keras.callbacks.Callback):
    """After BackupAndRestore: the state it restored, and the epochs run."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_train_begin(self, logs=None):
        self.banks = _banks(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_backup_and_restore_restores_the_banks(digits, tmp_path):
    x, y = _data(digits)
    backup = str(tmp_path / "backup")
    interrupt = _Interrupt()
    with pytest.raises(RuntimeError, match="interrupted"):
        _distiller().fit(
            x,
            y,
            batch_size=32,
            epochs=4,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup), interrupt],
        )
    # A new Distiller (other student weights, fresh banks) resumes at epoch 2.
    resumed = _distiller(seed=5)
    assert not np.allclose(_banks(resumed)[0], interrupt.banks[0])
    record = _Record()
    resumed.fit(
        x,
        y,
        batch_size=32,
        epochs=4,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup), record],
    )
    assert record.epochs == [2, 3]
    for value, expected in zip(record.banks, interrupt.banks, strict=True):
        np.testing.assert_array_equal(value, expected)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    import keras
    import numpy as np
    import kdkeras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.integers(0, 4, size=64)


    def model(seed, name):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(8, activation="relu", name=name)(inputs)
        return keras.Model(inputs, keras.layers.Dense(4)(hidden))


    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        crd = kdkeras.losses.ContrastiveRepresentation(
            "t", "s", num_examples=64, embedding_dim=8, num_negatives=8, seed=0
        )
        distiller = kdkeras.Distiller(model(1, "t"), model(2, "s"), features=[crd])
        distiller.compile(optimizer=keras.optimizers.SGD(0.1), alpha=0.5)
    before = keras.ops.convert_to_numpy(crd.student_bank).copy()
    dataset = tf.data.Dataset.from_tensor_slices((x[:32], y[:32]))
    dataset = kdkeras.distillation.with_example_index(dataset).batch(16)
    logs = distiller.fit(dataset, epochs=1, verbose=0).history
    after = keras.ops.convert_to_numpy(crd.student_bank)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "loss": logs["feature_loss"][0],
        "changed": np.flatnonzero(~np.isclose(after, before).all(axis=1)).tolist(),
        "norms": np.linalg.norm(after[:32], axis=1).tolist(),
    }))
    """
)


@pytest.mark.tensorflow
def test_every_replica_updates_its_rows_under_mirrored_strategy():
    """Each of two replicas gets half of a batch; both halves' rows move."""
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["replicas"] == 2
    assert output["changed"] == list(range(32))
    np.testing.assert_allclose(output["norms"], 1.0, rtol=1e-5)
    assert np.isfinite(output["loss"])
