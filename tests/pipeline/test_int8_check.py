"""The distill stage's deployment check: on by default with an int8 export,
configured by `distill.deployment_check`, placed before TensorBoard, each
check logged as its epoch ends."""

import logging

import keras
import numpy as np
import pytest

from kdkeras.config import ConfigError, validate_config
from kdkeras.export import DeploymentCheck
from kdkeras.pipeline.int8_check import CheckLog, deployment_check
from kdkeras.pipeline.run_data import RunData
from kdkeras.pipeline.training import stage_callbacks

LOG = logging.getLogger("test_deployment_check")


def run_data(validation=True):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 28, 28, 1)).astype("uint8")
    y = np.arange(40) % 3
    return RunData(
        train=(x[:30], y[:30]),
        validation=(x[30:], y[30:]) if validation else None,
        test=(x[30:], y[30:]),
        class_names=["a", "b", "c"],
        input_shape=(28, 28, 1),
    )


def config(**sections):
    return validate_config({"data": {"source": "embedded_fashion_mnist"}, **sections})


def test_on_by_default_with_an_int8_export():
    check = deployment_check(config(), run_data(), LOG)
    assert isinstance(check, DeploymentCheck)
    assert (check.every_n_epochs, check.max_accuracy_drop) == (5, 0.02)
    assert (check.on_budget_exceeded, check.latency_runs) == ("warn", 50)
    assert check.num_threads == 1  # report.num_threads


def test_the_config_sets_interval_sample_budget_and_action():
    settings = {
        "every_n_epochs": 2,
        "num_examples": 4,
        "max_accuracy_drop": 0.005,
        "on_budget_exceeded": "stop",
        "latency_runs": 0,
    }
    check = deployment_check(
        config(distill={"deployment_check": settings}), run_data(), LOG
    )
    assert check.every_n_epochs == 2 and check.max_accuracy_drop == 0.005
    assert check.on_budget_exceeded == "stop" and check.latency_runs == 0
    # The first 4 validation images, not the training ones.
    x, _ = run_data().validation
    np.testing.assert_array_equal(check._x, x[:4])


@pytest.mark.parametrize(
    "sections",
    [
        {"distill": {"deployment_check": {"enabled": False}}},
        {"export": {"quantizations": ["float16"]}},
        {"export": {"enabled": False}},
    ],
)
def test_off_when_disabled_or_without_int8(sections):
    assert deployment_check(config(**sections), run_data(), LOG) is None


def test_off_without_a_validation_split(caplog):
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert deployment_check(config(), run_data(validation=False), LOG) is None
    assert "deployment check off: no validation split" in caplog.text


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError) as info:
        config(distill={"deployment_check": {"every_n_epochs": 0, "action": "stop"}})
    assert info.value.problems == [
        "distill.deployment_check.every_n_epochs: Input should be greater than 0 "
        "(received: 0)",
        "distill.deployment_check.action: unknown key (received: 'stop'). Valid "
        "keys: enabled, every_n_epochs, latency_runs, max_accuracy_drop, "
        "num_examples, on_budget_exceeded",
    ]


def test_the_check_comes_after_the_csv_logger_and_before_tensorboard(tmp_path):
    class Folder:
        def history_path(self, stage):
            return str(tmp_path / f"{stage}.csv")

        def checkpoint_dir(self, stage):
            return str(tmp_path / "checkpoints" / stage)

        def tensorboard_dir(self, stage):
            return str(tmp_path / "tensorboard" / stage)

    check = deployment_check(config(), run_data(), LOG)
    callbacks = stage_callbacks(Folder(), "distill", checks=(check,))
    assert [type(callback) for callback in callbacks] == [
        keras.callbacks.CSVLogger,
        keras.callbacks.BackupAndRestore,
        DeploymentCheck,
        keras.callbacks.TensorBoard,
    ]


def test_each_check_is_logged_as_its_epoch_ends(caplog):
    class Check:
        results = []
        stopped = False

    check = Check()
    check_log = CheckLog(check, LOG)
    result = {
        "int8_accuracy": 0.85,
        "float_accuracy": 0.86,
        "int8_accuracy_drop": 0.01,
        "int8_agreement": 0.998,
        "int8_size_bytes": 14880,
        "int8_latency_ms": 0.03,
        "seconds": 3.2,
    }
    with caplog.at_level(logging.INFO, logger=LOG.name):
        check_log.on_epoch_end(0)
        assert caplog.messages == []
        check.results.append({"epoch": 2, **result})
        check_log.on_epoch_end(1)
        check_log.on_epoch_end(2)
        check.results.append({"epoch": 4, "error": "top-1 agreement 0.2", "seconds": 1})
        check.stopped = True
        check_log.on_epoch_end(3)
        check_log.on_train_end()
    assert caplog.messages == [
        "  int8 check, epoch 2: accuracy 0.8500 (float 0.8600, drop +0.0100), "
        "agreement 0.9980, 14880 bytes, 0.030 ms at batch 1, 3.2 s",
        "  int8 check, epoch 4: export failed: top-1 agreement 0.2",
        "  distillation stopped by the deployment check after epoch 4",
    ]
