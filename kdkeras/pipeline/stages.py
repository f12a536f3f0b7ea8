"""The stages of `kdkeras run`, each a thin layer over kdkeras' own functions.

teacher (`kdkeras.models.build_teacher` + `kdkeras.transfer.fine_tune`) →
scratch (a plain Keras `fit`) → distill (`kdkeras.Distiller`, online or from
`kdkeras.offline`'s logit cache) → export (`kdkeras.export.save_for_device`)
→ optimize (`kdkeras.optimize`) → report
(`kdkeras.evaluation.report.compare_and_report`).

Each stage takes the `RunContext`, trains or loads its models into
`context.models` and returns the artifacts `state.json` records, so a resumed
run loads them instead of running the stage again.
"""

import dataclasses
import logging
import os

import keras

from kdkeras.pipeline import data as run_data
from kdkeras.pipeline import models as run_models
from kdkeras.pipeline.training import (
    cosine_adam,
    final_metrics,
    label_loss,
    stage_callbacks,
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
    """

    config: object
    folder: object
    data: object
    log: logging.Logger
    extra_callbacks: tuple = ()
    models: dict = dataclasses.field(default_factory=dict)
    tflite: dict = dataclasses.field(default_factory=dict)

    def callbacks(self, stage):
        return stage_callbacks(
            self.folder, stage, self.config.run.tensorboard, self.extra_callbacks
        )

    def training_batches(self, batch_size):
        return run_data.batched(
            self.data.train, batch_size, shuffle=True, seed=self.config.run.seed
        )

    def validation_batches(self, batch_size):
        if self.data.validation is None:
            return None
        return run_data.batched(self.data.validation, batch_size)

    def save_model(self, stage, model):
        """Saves `model` as `models/<name>.keras` (atomically); its artifacts."""
        from kdkeras.io_utils import atomic_path

        path = self.folder.model_path(MODEL_NAMES[stage])
        with atomic_path(path, overwrite=True) as temporary_path:
            model.save(temporary_path)
        self.models[MODEL_NAMES[stage]] = model
        return {"model": path}

    def final_student(self):
        """The student to deploy: the distilled one, else the scratch one."""
        return self.models.get("student_distilled", self.models.get("student_scratch"))


def run_teacher(context):
    """The teacher: the ready `teacher.path`, or a preset fine-tuned in two
    stages (`teacher_head`, `teacher_fine_tune`), each resumable."""
    config, folder, data = context.config, context.folder, context.data
    teacher_config = config.teacher
    if teacher_config.path is not None:
        teacher = run_models.load_ready_model(
            teacher_config.path, "teacher.path", data.input_shape, data.num_classes
        )
        context.models["teacher"] = teacher
        return {"model": teacher_config.path}
    from kdkeras.io_utils import atomic_path
    from kdkeras.models import build_teacher, transfer

    keras.utils.set_random_seed(config.run.seed)
    view = run_models.teacher_view(teacher_config, data.input_shape)
    core = build_teacher(
        teacher_config.preset,
        data.num_classes,
        (*view.size, 3),
        weights=teacher_config.weights,
        dropout=teacher_config.dropout,
        width=teacher_config.width,
        name="teacher_core",
    )
    from_scratch = teacher_config.weights is None
    if from_scratch:
        # keras.applications' momentum (0.999) suits long ImageNet runs only.
        transfer.set_batch_norm_momentum(core, 0.9)

    def viewed(batches):
        return None if batches is None else batches.map(lambda x, y: (view(x), y))

    train = viewed(context.training_batches(teacher_config.batch_size))
    validation = viewed(context.validation_batches(teacher_config.batch_size))
    head_weights = os.path.join(folder.directory("models"), "teacher_head.weights.h5")
    if folder.is_finished("teacher_head"):
        core.load_weights(head_weights)
    elif teacher_config.head_epochs:
        transfer.fine_tune(
            core,
            train,
            validation,
            head_epochs=teacher_config.head_epochs,
            head_learning_rate=teacher_config.head_learning_rate,
            fine_tune_epochs=0,
            callbacks=context.callbacks("teacher_head"),
            verbose=2,
        )
        with atomic_path(head_weights, overwrite=True) as temporary_path:
            core.save_weights(temporary_path)
        folder.mark_finished("teacher_head", weights=head_weights)
    if teacher_config.fine_tune_epochs:
        histories = transfer.fine_tune(
            core,
            train,
            validation,
            head_epochs=0,
            fine_tune_epochs=teacher_config.fine_tune_epochs,
            fine_tune_learning_rate=teacher_config.fine_tune_learning_rate,
            num_unfrozen_layers=None
            if from_scratch
            else teacher_config.num_unfrozen_layers,
            freeze_batch_norm=not from_scratch,
            callbacks=context.callbacks("teacher_fine_tune"),
            verbose=2,
        )
        context.log.info("  teacher: %s", final_metrics(histories["fine_tune"]))
    teacher = run_models.with_view(core, view, data.input_shape, name="teacher")
    return context.save_model("teacher", teacher)


def _new_student(context, name):
    # The same seed for both students: scratch and distilled start equal.
    keras.utils.set_random_seed(context.config.run.seed + 1)
    return run_models.build_configured_student(
        context.config.student, context.data.input_shape, context.data.num_classes, name
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
    steps = run_data.steps_per_epoch(context.data.train, scratch.batch_size)
    student.compile(
        optimizer=cosine_adam(scratch.learning_rate, scratch.epochs, steps),
        loss=label_loss(),
        metrics=["accuracy"],
    )
    history = student.fit(
        context.training_batches(scratch.batch_size),
        validation_data=context.validation_batches(scratch.batch_size),
        epochs=scratch.epochs,
        callbacks=context.callbacks("scratch"),
        shuffle=False,  # The batches are shuffled by the dataset itself.
        verbose=2,
    )
    context.log.info("  scratch: %s", final_metrics(history))
    return context.save_model("scratch", student)


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
    if distill.mode == "offline":
        train = kdkeras.offline.offline_dataset(
            *data.train,
            _cached_teacher_logits(context, teacher),
            batch_size=distill.batch_size,
            seed=context.config.run.seed,
        )
        teacher = None
    else:
        train = context.training_batches(distill.batch_size)
    distiller = kdkeras.Distiller(
        teacher=teacher, student=_new_student(context, "student_distilled")
    )
    steps = run_data.steps_per_epoch(data.train, distill.batch_size)
    distiller.compile(
        optimizer=cosine_adam(distill.learning_rate, distill.epochs, steps),
        metrics=["accuracy"],
        distillation_loss_fn=distill.method,
        alpha=distill.alpha,
        temperature=distill.temperature,
    )
    history = distiller.fit(
        train,
        validation_data=context.validation_batches(distill.batch_size),
        epochs=distill.epochs,
        callbacks=context.callbacks("distill"),
        shuffle=False,  # The batches are shuffled by the dataset itself.
        verbose=2,
    )
    context.log.info("  distill: %s", final_metrics(history))
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
        train = context.data.train
        calibration = train[0] if isinstance(train, tuple) else train.batch(32)
    paths = save_for_device(
        context.final_student(),
        context.folder.directory("package"),
        labels=context.data.class_names,
        representative_data=calibration,
        quantizations=tuple(export.quantizations),
        integer_io=export.integer_io,
        overwrite=True,
    )
    tflite = {f"student {q} .tflite": path for q, path in paths["tflite"].items()}
    context.tflite.update(tflite)
    return {"tflite": tflite, "package": os.path.dirname(paths["keras"])}


def run_optimize(context):
    """QAT or pruning of the distilled student, the teacher in the loss; its
    LiteRT file joins the package."""
    from kdkeras import export, optimize

    settings, distill = context.config.optimize, context.config.distill
    student, data = context.models["student_distilled"], context.data
    package_dir = context.folder.directory("package")
    arguments = dict(
        teacher=context.models["teacher"],
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        alpha=distill.alpha,
        temperature=distill.temperature,
        validation_data=data.validation,
        seed=context.config.run.seed,
    )
    if settings.method == "qat":
        result = optimize.quantize_aware(student, data.train, **arguments)
        saved = optimize.save_qat_for_device(
            result, package_dir, data.class_names, overwrite=True
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
    """Every model of the run on the test set: `report/report.{md,json,png}`."""
    from kdkeras.evaluation import format_table, report

    settings = context.config.report
    models = {
        row: context.models[name]
        for name, row in REPORT_ROWS.items()
        if name in context.models
    }
    x, y = run_data.evaluation_data(context.data.test)
    rows = report.compare_and_report(
        {**models, **context.tflite},
        x,
        y,
        context.folder.directory("report"),
        class_names=context.data.class_names,
        title=settings.title or f"kdkeras run {context.config.run.name}",
        latency_runs=settings.latency_runs,
        num_threads=settings.num_threads,
    )
    context.log.info("\n%s", format_table(rows, report.report_columns(rows)))
    return {"report": context.folder.file("report", "report.md")}
