"""The distill stage of `kdkeras run`: the student trained on the labels and
the teacher (`kdkeras.Distiller`), online or from the run's cache of the
teacher's logits (`kdkeras.offline`; with augmentation, the view cache), with
`auto` settings chosen first (`kdkeras.pipeline.distill_settings`)."""

from kdkeras.pipeline import (
    augmentation,
    distill_arguments,
    distill_settings,
    folder_logits,
    model_setup,
    run_data,
)
from kdkeras.pipeline.context import new_student
from kdkeras.pipeline.int8_check import (
    CheckLog,
    deployment_check,
)
from kdkeras.pipeline.teacher_logits import cached_teacher_logits
from kdkeras.pipeline.training import (
    cosine_adam,
    fit_stage,
)


def run_distill(context):
    """The student distilled from the teacher (or `distill.student_path`)."""
    import kdkeras

    distill, data = context.config.distill, context.data
    if distill.student_path is not None:
        context.models["student_distilled"] = model_setup.load_ready_model(
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
            cached_teacher_logits(context, teacher),
            batch_size=distill.batch_size,
            seed=context.config.run.seed,
        )
        teacher = None
    elif distill.mode == "offline":
        train = folder_logits.offline_batches(
            data.train_files,
            data.input_shape,
            cached_teacher_logits(context, teacher),
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
        student=new_student(context, "student_distilled"),
        # Online from an image folder: the scratch stage's shifts and flips.
        augmentation=augmentation.batch_augmentation(context.config, data),
        features=[feature.build() for feature in distill.features] or None,
    )
    check = deployment_check(context.config, data, context.log)
    steps = run_data.steps_per_epoch(data.train, distill.batch_size)
    distiller.compile(
        optimizer=cosine_adam(distill.learning_rate, distill.epochs, steps),
        metrics=["accuracy"],
        **distill_arguments.compile_arguments(distill, steps),
    )
    checks = (check, CheckLog(check, context.log)) if check else ()
    fit_stage(context, "distill", distiller, distill, train, steps_per_epoch, checks)
    return context.save_model("distill", distiller.student)
