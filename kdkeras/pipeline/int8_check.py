"""The distill stage's deployment check: the int8 student scored while it trains.

On by default when the run exports int8 (`distill.deployment_check` in the
config); see `kdkeras.export.DeploymentCheck`.
"""

import keras

from kdkeras.pipeline import run_data


def calibration_images(train):
    """What int8 calibrates on: the training images (arrays or a dataset)."""
    return train[0] if isinstance(train, tuple) else train.batch(32)


def deployment_check(config, data, log):
    """The `DeploymentCheck` of the distill stage, or `None` when it is off.

    It is off when `distill.deployment_check.enabled` is false, when the run
    exports no int8 file, or (said in the log) when the data has no validation
    split to score the int8 student on. It calibrates on the training images,
    as the export stage does, so it checks the file the run will ship.

    Args:
        config: The `RunConfig`.
        data: The `RunData`.
        log: The run's logger.
    """
    settings = config.distill.deployment_check
    export = config.export
    if not (settings.enabled and export.enabled and "int8" in export.quantizations):
        return None
    if data.validation is None:
        log.info(
            "  deployment check off: no validation split to score the int8 "
            "student on (data.validation_split is 0)"
        )
        return None
    from kdkeras.export import DeploymentCheck

    if isinstance(data.validation, tuple):
        x, y = data.validation
    else:
        x, y = run_data.batched(data.validation, 256), None
    log.info(
        "  deployment check: int8 LiteRT student every %d epochs on %d "
        "validation images, budget %s (%s)",
        settings.every_n_epochs,
        min(settings.num_examples, run_data.num_examples(data.validation)),
        "none"
        if settings.max_accuracy_drop is None
        else f"an accuracy drop of at most {settings.max_accuracy_drop:g}",
        settings.on_budget_exceeded,
    )
    return DeploymentCheck(
        x,
        y,
        every_n_epochs=settings.every_n_epochs,
        max_accuracy_drop=settings.max_accuracy_drop,
        on_budget_exceeded=settings.on_budget_exceeded,
        representative_data=calibration_images(data.train),
        num_examples=settings.num_examples,
        latency_runs=settings.latency_runs,
        num_threads=config.report.num_threads,
    )


class CheckLog(keras.callbacks.Callback):
    """Logs each check of a `DeploymentCheck` in the run's log as it ends.

    Placed after the check in the callback list, so the line of epoch `e`'s
    check is in `run.log` at the end of epoch `e` (Keras' own epoch line,
    which also shows the check's values, goes to the console only).

    Args:
        check: The `DeploymentCheck`.
        log: The run's logger.
    """

    def __init__(self, check, log):
        super().__init__()
        self.check = check
        self.log = log
        self._num_logged = len(check.results)

    def on_epoch_end(self, epoch, logs=None):
        for result in self.check.results[self._num_logged :]:
            log_check_result(result, self.log)
        self._num_logged = len(self.check.results)

    def on_train_end(self, logs=None):
        if self.check.stopped:
            self.log.info(
                "  distillation stopped by the deployment check after epoch %d",
                self.check.results[-1]["epoch"],
            )


def log_check_result(result, log):
    """One line in the run's log for one check (a `DeploymentCheck.results`
    item)."""
    if "error" in result:
        log.info(
            "  int8 check, epoch %d: export failed: %s",
            result["epoch"],
            result["error"],
        )
        return
    latency = result.get("int8_latency_ms")
    log.info(
        "  int8 check, epoch %d: accuracy %.4f (float %.4f, drop %+.4f), "
        "agreement %.4f, %d bytes%s, %.1f s",
        result["epoch"],
        result["int8_accuracy"],
        result["float_accuracy"],
        result["int8_accuracy_drop"],
        result["int8_agreement"],
        result["int8_size_bytes"],
        "" if latency is None else f", {latency:.3f} ms at batch 1",
        result["seconds"],
    )
