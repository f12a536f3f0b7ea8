"""The stages of `kdkeras run`, each a thin layer over kdkeras' own functions.

teacher (`kdkeras.pipeline.teacher_stage`) → scratch (a plain Keras `fit`) →
distill (`kdkeras.Distiller`, online or from `kdkeras.offline`'s logit cache)
→ export (`kdkeras.export.save_for_device`) → optimize (`kdkeras.optimize`)
→ report (`kdkeras.evaluation.report.compare_and_report`).

Each stage takes the `RunContext`, trains or loads its models into
`context.models` and returns the artifacts `state.json` records, so a resumed
run loads them instead of running the stage again.
"""

import dataclasses
import logging
import os

import keras

from kdkeras.pipeline import augmentation, distill_settings, folder_logits, objective
from kdkeras.pipeline import data as run_data
from kdkeras.pipeline import models as run_models
from kdkeras.pipeline.curves import plot_training_curves
from kdkeras.pipeline.deployment_check import (
    CheckLog,
    calibration_images,
    deployment_check,
)
from kdkeras.pipeline.training import (
    cosine_adam,
    fit_stage,
    stage_callbacks,
    train_on_labels,
)

MODEL_NAMES = {
    "teacher": "teacher",
    "scratch": "student_scratch",
    "distill": "student_distilled",
    "optimize": "student_optimized",
}
"""The model each stage makes, saved as `models/<name>.keras`."""


@dataclasses.dataclass
class RunContext:
    """What the stages of one run share.

    Attributes:
        config: The `RunConfig`.
        folder: The `RunFolder`.
        data: The `RunData`.
        log: The logger of the run.
        extra_callbacks: Keras callbacks added to every training stage.
        models: Model name (`MODEL_NAMES`) → Keras model, as stages make them.
        tflite: Report row name → `.tflite` path, as stages write them.
        gate_sample: `(x, y, split_name)` the gates score on
            (`kdkeras.pipeline.gates.split_sample`), once drawn.
        shipped_student: The model name (`MODEL_NAMES`) of the student the
            device package holds, once the gates chose it.
    """

    config: object
    folder: object
    data: object
    log: logging.Logger
    extra_callbacks: tuple = ()
    models: dict = dataclasses.field(default_factory=dict)
    tflite: dict = dataclasses.field(default_factory=dict)
    gate_sample: tuple | None = None
    shipped_student: str | None = None

    def callbacks(self, stage, checks=()):
        return stage_callbacks(
            self.folder,
            stage,
            self.config.run.tensorboard,
            self.extra_callbacks,
            checks,
        )

    def training_batches(self, batch_size):
        return run_data.batched(
            self.data.train, batch_size, shuffle=True, seed=self.config.run.seed
        )

    def student_batches(self, batch_size, epochs):
        """`(dataset, steps_per_epoch)` of a student's training: augmented
        views of images in memory when `augmentation` is set
        (`steps_per_epoch` then keeps one iterator over the epochs' views),
        else the shuffled batches (an image folder's are augmented by
        `augmentation.batch_augmentation`)."""
        if self.config.augmentation is None or not self.data.in_memory:
            return self.training_batches(batch_size), None
        return augmentation.views_batches(
            self.config, self.data.train, batch_size, epochs
        )

    def validation_batches(self, batch_size):
        if self.data.validation is None:
            return None
        return run_data.batched(self.data.validation, batch_size)

    def decide(self, stage, message, **numbers):
        """Logs and records a choice the run made, with its evidence."""
        self.log.info("  decision: %s", message)
        self.folder.add_finding(stage, "decision", message, **numbers)

    def warn(self, stage, message, **numbers):
        """Logs and records a result worse than it should be; the report and
        the command line's last lines repeat it (`kdkeras run --strict`
        turns it into a non-zero exit)."""
        self.log.warning("  WARNING: %s", message)
        self.folder.add_finding(stage, "warning", message, **numbers)

    def save_model(self, stage, model):
        """Saves `model` as `models/<name>.keras` (atomically); its artifacts."""
        from kdkeras.io_utils import atomic_path

        path = self.folder.model_path(MODEL_NAMES[stage])
        with atomic_path(path, overwrite=True) as temporary_path:
            model.save(temporary_path)
        self.models[MODEL_NAMES[stage]] = model
        return {"model": path}

    def final_student_name(self):
        """The model name of the student to deploy: the one the gates chose
        (`kdkeras.pipeline.gates.choose_shipped_student`), else the distilled one,
        else the scratch one."""
        if self.shipped_student is not None:
            return self.shipped_student
        if "student_distilled" in self.models:
            return "student_distilled"
        return "student_scratch"

    def final_student(self):
        """The student to deploy (`final_student_name`)."""
        return self.models[self.final_student_name()]


def _new_student(context, name):
    # The same seed for both students: scratch and distilled start equal.
    keras.utils.set_random_seed(context.config.run.seed + 1)
    data = context.data
    return run_models.build_configured_student(
        context.config.student,
        data.input_shape,
        data.num_classes,
        name,
        tokenizer=data.tokenizer,
    )


def run_scratch(context):
    """The baseline student, trained on the labels alone (or `scratch.path`)."""
    scratch = context.config.scratch
    if scratch.path is not None:
        context.models["student_scratch"] = run_models.load_ready_model(
            scratch.path,
            "scratch.path",
            context.data.input_shape,
            context.data.num_classes,
        )
        return {"model": scratch.path}
    student = _new_student(context, "student_scratch")
    train, steps_per_epoch = context.student_batches(scratch.batch_size, scratch.epochs)
    folder_augmentation = augmentation.batch_augmentation(context.config, context.data)
    if folder_augmentation is not None:
        train = augmentation.augmented_batches(train, folder_augmentation)
    return train_on_labels(context, "scratch", student, scratch, train, steps_per_epoch)


def run_distill(context):
    """The student distilled from the teacher (or `distill.student_path`)."""
    import kdkeras

    distill, data = context.config.distill, context.data
    if distill.student_path is not None:
        context.models["student_distilled"] = run_models.load_ready_model(
            distill.student_path,
            "distill.student_path",
            data.input_shape,
            data.num_classes,
        )
        return {"model": distill.student_path}
    teacher = context.models["teacher"]
    steps_per_epoch = None
    if distill.mode == "offline" and context.config.augmentation is not None:
        train, steps_per_epoch = augmentation.cached_views_batches(
            context, teacher, distill.batch_size, distill.epochs
        )
        teacher = None
    elif distill.mode == "offline" and data.in_memory:
        train = kdkeras.offline.offline_dataset(
            *data.train,
            _cached_teacher_logits(context, teacher),
            batch_size=distill.batch_size,
            seed=context.config.run.seed,
        )
        teacher = None
    elif distill.mode == "offline":
        train = folder_logits.offline_batches(
            data.train_files,
            data.input_shape,
            folder_logits.cached_teacher_logits(context, teacher),
            distill.batch_size,
            context.config.run.seed,
        )
        teacher = None
    else:
        train, steps_per_epoch = context.student_batches(
            distill.batch_size, distill.epochs
        )
    distill = distill_settings.resolved_distill(context)
    distiller = kdkeras.Distiller(
        teacher=teacher,
        student=_new_student(context, "student_distilled"),
        # Online from an image folder: the scratch stage's shifts and flips.
        augmentation=augmentation.batch_augmentation(context.config, data),
        features=[feature.build() for feature in distill.features] or None,
    )
    check = deployment_check(context.config, data, context.log)
    steps = run_data.steps_per_epoch(data.train, distill.batch_size)
    distiller.compile(
        optimizer=cosine_adam(distill.learning_rate, distill.epochs, steps),
        metrics=["accuracy"],
        **objective.compile_arguments(distill, steps),
    )
    checks = (check, CheckLog(check, context.log)) if check else ()
    fit_stage(context, "distill", distiller, distill, train, steps_per_epoch, checks)
    return context.save_model("distill", distiller.student)


def _cached_teacher_logits(context, teacher):
    """The teacher's logits on the training images, from the run's cache."""
    from kdkeras import offline

    path = os.path.join(context.folder.directory("models"), "teacher_logits.npz")
    x_train = context.data.train[0]
    if os.path.exists(path):
        try:
            return offline.load_teacher_logits(path, x_train, teacher)
        except offline.StaleCacheError:
            context.log.info("  the teacher-logit cache is stale: recomputing it")
    return offline.cache_teacher_logits(
        teacher, x_train, path, overwrite=True, verbose=2
    )


def run_export(context):
    """The final student as LiteRT files with labels and metadata."""
    from kdkeras.export import save_for_device

    export = context.config.export
    calibration = None
    if "int8" in export.quantizations:
        calibration = calibration_images(context.data.train)
    student = context.final_student()
    context.log.info(
        "  converting the %s to LiteRT %s, each checked against Keras",
        REPORT_ROWS[context.final_student_name()],
        ", ".join(export.quantizations),
    )
    paths = save_for_device(
        student,
        context.folder.directory("package"),
        labels=context.data.class_names,
        representative_data=calibration,
        quantizations=tuple(export.quantizations),
        integer_io=export.integer_io,
        tokenizer=context.data.tokenizer,
        overwrite=True,
        verbose=2,
    )
    tflite = {f"student {q} .tflite": path for q, path in paths["tflite"].items()}
    for quantization, path in paths["tflite"].items():
        context.log.info(
            "  %s: %s (%.1f KB)", quantization, path, os.path.getsize(path) / 1024
        )
    context.tflite.update(tflite)
    if export.min_agreement is not None:
        _check_agreement(context, student, paths["tflite"], export.min_agreement)
    return {"tflite": tflite, "package": os.path.dirname(paths["keras"])}


def _check_agreement(context, student, tflite_paths, min_agreement):
    """Warns about each LiteRT file whose top-1 agreement with the Keras
    student, on the gates' sample of the validation split, is below
    `min_agreement`."""
    from kdkeras.litert import compare_with_keras
    from kdkeras.pipeline.gates import split_sample

    if context.gate_sample is None:
        context.gate_sample = split_sample(context.data)
    x, _, split_name = context.gate_sample
    for quantization, path in tflite_paths.items():
        agreement = compare_with_keras(student, path, x, verbose=0)["top1_agreement"]
        context.log.info(
            "  %s: top-1 agreement with Keras %.4f on %d %s examples",
            quantization,
            agreement,
            len(x),
            split_name,
        )
        if agreement < min_agreement:
            context.warn(
                "export",
                f"the {quantization} LiteRT file agrees with the Keras student "
                f"on {agreement:.1%} of {len(x)} {split_name} examples, below "
                f"export.min_agreement ({min_agreement:.1%}): it will not "
                "behave on the device as the student did here",
                quantization=quantization,
                agreement=round(agreement, 4),
            )


def run_optimize(context):
    """QAT or pruning of the distilled student, the teacher in the loss; its
    LiteRT file joins the package."""
    from kdkeras import export, optimize

    settings = context.config.optimize
    distill = distill_settings.resolved_distill(context)
    student, data = context.final_student(), context.data
    student_row = REPORT_ROWS[context.final_student_name()]
    package_dir = context.folder.directory("package")
    context.log.info(
        "  %s: %d epochs on %d images, the teacher in the loss",
        f"quantization-aware training of the {student_row}"
        if settings.method == "qat"
        else f"pruning the {student_row} to {settings.target_sparsity:.0%} sparsity",
        settings.epochs,
        run_data.num_examples(data.train),
    )
    arguments = dict(
        teacher=context.models["teacher"],
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        **objective.optimize_arguments(distill),
        validation_data=data.validation,
        seed=context.config.run.seed,
        verbose=2,
    )
    if settings.method == "qat":
        result = optimize.quantize_aware(student, data.train, **arguments)
        saved = optimize.save_qat_for_device(
            result, package_dir, data.class_names, overwrite=True, verbose=2
        )
        tflite = {"student qat_int8 .tflite": saved["tflite"]}
        artifacts = context.save_model("optimize", result.keras_model)
    else:
        result = optimize.prune(
            student, data.train, target_sparsity=settings.target_sparsity, **arguments
        )
        artifacts = context.save_model("optimize", result.model)
        tflite = {}
        for quantization in context.config.export.quantizations:
            saved = export.add_variant(
                result.model,
                package_dir,
                data.class_names,
                f"pruned_{quantization}",
                quantization=quantization,
                representative_data=data.train[0],
                overwrite=True,
                verbose=2,
            )
            tflite[f"student pruned {quantization} .tflite"] = saved["tflite"]
    context.tflite.update(tflite)
    return {**artifacts, "tflite": tflite}


REPORT_ROWS = {
    "teacher": "teacher",
    "student_scratch": "student (scratch)",
    "student_distilled": "student (distilled)",
    "student_optimized": "student (optimized)",
}


def run_report(context):
    """Every model of the run on the test set: `report/report.{md,json,png}`,
    with what the run decided and warned about, and the teacher-to-student
    figures."""
    from kdkeras.evaluation import compare_models, format_table, report

    settings = context.config.report
    models = {
        row: context.models[name]
        for name, row in REPORT_ROWS.items()
        if name in context.models
    }
    x, y = run_data.evaluation_data(context.data.test)
    context.log.info(
        "  scoring %d models on %d test %s%s",
        len(models) + len(context.tflite),
        run_data.num_examples(context.data.test),
        "images" if context.data.tokenizer is None else "texts",
        f", {settings.latency_runs} timed batch-1 runs each"
        if settings.latency_runs
        else "",
    )
    rows = compare_models(
        {**models, **context.tflite},
        x,
        y,
        latency_runs=settings.latency_runs,
        num_threads=settings.num_threads,
        verbose=2,
    )
    _teacher_to_student(context, rows)
    report.write_report(
        rows,
        context.folder.directory("report"),
        class_names=context.data.class_names,
        title=settings.title or f"kdkeras run {context.config.run.name}",
        findings=context.folder.findings(),
    )
    context.log.info("\n%s", format_table(rows, report.report_columns(rows)))
    artifacts = {"report": context.folder.file("report", "report.md")}
    curves = plot_training_curves(
        context.folder.file("history"),
        context.folder.file("report", "training_curves.png"),
    )
    if curves is not None:
        context.log.info("  training curves: %s", curves)
        artifacts["training_curves"] = curves
    return artifacts


def _teacher_to_student(context, rows):
    """Records the teacher-to-student figures of the shipped student's
    smallest LiteRT file (its Keras model without one) as the run's result."""
    from kdkeras.evaluation import describe_teacher_to_student, teacher_to_student

    names = [row["name"] for row in rows]
    if "teacher" not in names:
        return
    deployed = [row for row in rows if row["name"] in context.tflite.keys()]
    if deployed:
        student = min(deployed, key=lambda row: row["size_bytes"])["name"]
    else:
        student = REPORT_ROWS[context.final_student_name()]
    figures = teacher_to_student(rows, "teacher", student)
    context.folder.add_finding(
        "report", "result", describe_teacher_to_student(figures), **figures
    )
    context.log.info("  %s", describe_teacher_to_student(figures))
