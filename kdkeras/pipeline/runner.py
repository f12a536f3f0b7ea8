"""`kdkeras run` as a function: plan the stages, check, run, record, resume.

```python
from kdkeras.config import load_config
from kdkeras.pipeline import start_run, resume_run

folder = start_run(load_config("examples/configs/demo.yaml"))
# after an interruption:
resume_run(folder.path)
```
"""

import os
import time

import keras

from kdkeras.config.errors import ConfigError
from kdkeras.pipeline import data_checks, gates, model_setup
from kdkeras.pipeline.context import MODEL_NAMES, RunContext
from kdkeras.pipeline.data_checks import data_check_lines
from kdkeras.pipeline.distill_settings import check_auto_settings
from kdkeras.pipeline.distill_stage import run_distill
from kdkeras.pipeline.export_stage import run_export
from kdkeras.pipeline.optimize_stage import run_optimize
from kdkeras.pipeline.report_stage import run_report
from kdkeras.pipeline.run_data import load_run_data, num_examples
from kdkeras.pipeline.run_folder import RunFolder
from kdkeras.pipeline.scratch_stage import run_scratch
from kdkeras.pipeline.student_choice import (
    choose_configured_student,
    record_student_choice,
)
from kdkeras.pipeline.teacher_stage import run_teacher

STAGE_FUNCTIONS = {
    "teacher": run_teacher,
    "scratch": run_scratch,
    "distill": run_distill,
    "export": run_export,
    "optimize": run_optimize,
    "report": run_report,
}
"""Every stage, in the order a run goes through them."""


def planned_stages(config):
    """The names of the stages `config` runs, in order."""
    distills = config.distill.enabled and config.distill.student_path is None
    wanted = {
        "teacher": distills or config.optimize is not None or config.teacher.ready,
        "scratch": config.scratch.enabled,
        "distill": config.distill.enabled,
        "export": config.export.enabled,
        "optimize": config.optimize is not None,
        "report": config.report.enabled,
    }
    return [stage for stage in STAGE_FUNCTIONS if wanted[stage]]


def start_run(config, output_dir=None, extra_callbacks=()):
    """Runs `config` in a new run folder.

    Args:
        config: A validated `kdkeras.config.RunConfig`.
        output_dir: Overrides `run.output_dir`.
        extra_callbacks: Keras callbacks added to every training stage.

    Returns:
        The `RunFolder`.
    """
    # Data and models are checked before the run folder exists: a config
    # that cannot run leaves nothing behind.
    data = load_run_data(config.data, config.run.seed)
    # `student.architecture: auto` becomes the measured student the run trains.
    config, student_choice = choose_configured_student(config, data)
    check_before_training(config, data, planned_stages(config))
    folder = RunFolder.create(config, output_dir=output_dir)
    record_student_choice(folder, config, student_choice)
    run_stages(folder, config, extra_callbacks, data=data)
    return folder


def resume_run(path, extra_callbacks=(), allow_changed_config=False):
    """Continues the run in the folder `path` with the config it started with.

    Finished stages are loaded, not run again; an interrupted training stage
    restarts from its last finished epoch (`BackupAndRestore`); a stage whose
    model or folder was written but not recorded in `state.json` (the run
    stopped between the two) runs again (`forget_unrecorded`).

    Args:
        path: The run folder.
        extra_callbacks: Keras callbacks added to every training stage.
        allow_changed_config: Whether to go on when the folder's
            `config.yaml` was edited since the run started (a warning of the
            run lists the changed keys); refused otherwise.

    Returns:
        The `RunFolder`.

    Raises:
        RunFolderError: If `path` is not a run folder, its `state.json` is
            damaged (`StateFileError`), or its config changed
            (`ChangedConfigError`).
    """
    folder = RunFolder.open(path)
    config = folder.load_config()
    changes = folder.check_config_unchanged(config, allow_changed_config)
    if changes:
        folder.add_finding(
            "resume",
            "warning",
            f"config.yaml was changed since the run started ({'; '.join(changes)}) "
            "and resumed with --allow-changed-config: the stages finished before "
            f"({', '.join(folder.finished_stages()) or 'none'}) keep what the "
            "old config made",
            changed_keys=len(changes),
        )
    run_stages(folder, config, extra_callbacks)
    return folder


def run_stages(folder, config, extra_callbacks=(), data=None):
    """Runs the stages of `config` that `folder` has not finished.

    Args:
        folder: The `RunFolder`.
        config: Its `RunConfig`.
        extra_callbacks: Keras callbacks added to every training stage.
        data: The `RunData`, if already loaded and checked.
    """
    plan = planned_stages(config)
    if data is None:
        data = load_run_data(config.data, config.run.seed)
        check_before_training(config, data, plan)
    with folder.logging_to_file() as log:
        keras.utils.set_random_seed(config.run.seed)
        log.info(
            "kdkeras run %s: %d training, %s validation and %d test %s of "
            "shape %s, %d classes",
            folder.path,
            num_examples(data.train),
            num_examples(data.validation) if data.validation is not None else 0,
            num_examples(data.test),
            "images" if data.tokenizer is None else "texts (token ids)",
            tuple(data.input_shape),
            data.num_classes,
        )
        for line in data_check_lines(data):
            log.info(line)
        context = RunContext(config, folder, data, log, tuple(extra_callbacks))
        _record_data_findings(folder, data)
        for stage in plan:
            if folder.is_finished(stage):
                _load_finished(context, stage)
                log.info("[%s] finished before: loaded", stage)
                _judge(context, stage, plan)
                continue
            forget_unrecorded(folder, stage, log)
            log.info("[%s] starting", stage)
            folder.clear_findings(stage)
            start = time.perf_counter()
            try:
                artifacts = STAGE_FUNCTIONS[stage](context)
            except BaseException as error:  # Ctrl-C included: say how to go on.
                log.info(
                    "[%s] interrupted (%s). Continue with: kdkeras run --resume %s",
                    stage,
                    type(error).__name__,
                    folder.path,
                )
                raise
            folder.mark_finished(stage, **artifacts)
            log.info("[%s] done in %.0f s", stage, time.perf_counter() - start)
            _judge(context, stage, plan)
        log.info("Run finished: %s", folder.path)
    return folder


STAGE_OUTPUTS = {
    "teacher": (("models", "teacher.keras"), ("teacher_fine_tune",)),
    "scratch": (("models", "student_scratch.keras"), ("scratch",)),
    "distill": (("models", "student_distilled.keras"), ("distill",)),
    "export": (("package",), ()),
    "optimize": (("models", "student_optimized.keras"), ()),
    "report": (("report",), ()),
}
"""Stage → (the file or folder it writes last, before `state.json` records
it; the training histories it restarts from epoch 0 without a backup)."""


def forget_unrecorded(folder, stage, log):
    """Removes what `stage` wrote before the run stopped without recording it.

    A stage writes its model (or package, or report) and then records it in
    `state.json`; a run killed between the two, or whose record failed
    (disk full), leaves the output without the record. Such a stage runs
    again from its start (nothing is trusted that `state.json` does not
    vouch for): its output is removed first, with the history and
    TensorBoard files of its finished training, which starts again at
    epoch 0 (its backup was deleted when it finished). An interrupted
    training (its backup in `checkpoints/`) keeps its history.

    Returns:
        Whether an unrecorded output was found.
    """
    import shutil

    output, histories = STAGE_OUTPUTS.get(stage, (None, ()))
    path = folder.file(*output) if output else None
    if path is None or not os.path.lexists(path):
        return False
    log.info(
        "[%s] %s was written but the stage is not recorded in state.json (the "
        "run stopped between the two): the stage runs again",
        stage,
        os.path.join(*output),
    )
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.remove(path)
    for history in histories:
        if os.path.isdir(folder.checkpoint_dir(history)):
            continue
        if os.path.exists(folder.file("history", f"{history}.csv")):
            os.remove(folder.file("history", f"{history}.csv"))
        shutil.rmtree(folder.tensorboard_dir(history), ignore_errors=True)
    return True


def _record_data_findings(folder, data):
    """The data checks' warnings and skipped files, as findings of the run
    (for the report and the command's last lines)."""
    folder.clear_findings("data")
    for warning in data.data_warnings:
        folder.add_finding("data", "warning", warning)
    if data.skipped_files:
        shown = "; ".join(
            f"{path} ({reason})"
            for path, reason in data.skipped_files[: data_checks.LISTED_FILES]
        )
        more = len(data.skipped_files) - data_checks.LISTED_FILES
        folder.add_finding(
            "data",
            "decision",
            f"{len(data.skipped_files)} images that do not decode were left out "
            f"(data.on_unreadable: skip): {shown}"
            + (f"; and {more} more (run.log lists them)" if more > 0 else ""),
            skipped=len(data.skipped_files),
        )


def _judge(context, stage, plan):
    """The gates after `stage` (`kdkeras.pipeline.gates`), run again when a
    resumed run loads the stage, so a weak teacher cannot slip through."""
    if stage == "teacher" and "distill" in plan:
        context.folder.clear_findings("teacher_gate")
        gates.check_teacher(context)
    elif stage == "scratch" and "distill" in plan and "teacher" in context.models:
        context.folder.clear_findings("scratch_gate")
        gates.check_teacher_against_scratch(context)
    elif stage == "distill":
        context.folder.clear_findings("selection")
        gates.choose_shipped_student(context)


def check_before_training(config, data, plan):
    """Refuses what would fail late, before the first stage trains.

    A student architecture that cannot take the data's images, a preset
    teacher too small for its backbone or whose ImageNet weights cannot be
    downloaded, and ready `.keras` models that do not take the images (or
    the tokenizer's ids) or output one score per class.

    Raises:
        ConfigError: Naming the key at fault.
    """
    student = model_setup.build_configured_student(
        config.student,
        data.input_shape,
        data.num_classes,
        "student_check",
        tokenizer=data.tokenizer,
    )
    if "distill" in plan and config.distill.student_path is None:
        check_auto_settings(config, data)
    if "teacher" in plan and not config.teacher.ready and data.tokenizer is None:
        model_setup.check_teacher_preset(config.teacher, data.input_shape)
        if config.teacher.weights == "imagenet":
            _download_imagenet_weights(config.teacher, data.input_shape)
    ready_models = (
        ("teacher.path", config.teacher.path),
        *(
            (f"teacher.paths[{index}]", path)
            for index, path in enumerate(config.teacher.paths or ())
        ),
        ("scratch.path", config.scratch.path),
        ("distill.student_path", config.distill.student_path),
    )
    loaded = {
        key: model_setup.load_ready_model(
            path, key, data.input_shape, data.num_classes, tokenizer=data.tokenizer
        )
        for key, path in ready_models
        if path is not None
    }
    if config.distill.features and "distill" in plan:
        model_setup.check_feature_layers(
            config.distill.features, loaded["teacher.path"], student
        )
    if "report" in plan and data.test is None:
        raise ConfigError(["data: expected a test split for the report; none found"])


def _download_imagenet_weights(teacher_config, input_shape):
    """Has Keras download the preset teacher's ImageNet weights into its cache
    (`~/.keras/models`), where the teacher stage finds them.

    Args:
        teacher_config: The `teacher` section (a preset, `weights: imagenet`).
        input_shape: The data's image shape.

    Raises:
        ConfigError: Naming `teacher.weights` and the two ways out, if the
            download fails (no internet).
    """
    import re

    from kdkeras.models import PretrainedWeightsUnavailableError, build_backbone

    height, width = model_setup.teacher_image_size(teacher_config, input_shape)
    try:
        build_backbone(
            teacher_config.preset,
            (height, width, 3),
            weights="imagenet",
            width=teacher_config.width,
        )
    except PretrainedWeightsUnavailableError as error:
        # The message holds Keras' URL and why fetching it failed.
        url = re.search(r"https?://\S+?\.h5", str(error))
        cause = re.search(r" -- (.+?)\)\. ", str(error))
        file_name = url.group(0).rsplit("/", 1)[1] if url else "<no_top file>.h5"
        raise ConfigError(
            [
                f"teacher.weights: expected ImageNet weights of "
                f"{teacher_config.preset} that Keras can download; the download "
                f"failed ({cause.group(1) if cause else 'no internet?'}). Download "
                f"{url.group(0) if url else 'its no_top .h5 file'} on a machine "
                f"with internet and set teacher.weights: /path/to/{file_name}, or "
                "set teacher.weights: none to train the backbone from scratch "
                "(received: 'imagenet')"
            ]
        ) from None


def _load_finished(context, stage):
    """Puts a finished stage's models and files back into `context`."""
    artifacts = context.folder.artifacts(stage)
    if "model" in artifacts and stage in MODEL_NAMES:
        context.models[MODEL_NAMES[stage]] = keras.saving.load_model(artifacts["model"])
    context.tflite.update(artifacts.get("tflite", {}))
