"""The distill stage of `kdkeras run`: the student trained on the labels and
the teacher (`kdkeras.Distiller`), online or from the run's cache of the
teacher's logits and named layers' outputs (`kdkeras.pipeline.teacher_logits`),
with `auto` settings chosen first (`kdkeras.pipeline.distill_settings`)."""

from kdkeras.pipeline import (
    distill_arguments,
    distill_settings,
    model_setup,
    run_data,
    training_augmentation,
)
from kdkeras.pipeline.context import new_student
from kdkeras.pipeline.int8_check import (
    CheckLog,
    deployment_check,
)
from kdkeras.pipeline.teacher_logits import offline_training_batches
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
    teacher_feature_shapes = None
    if distill.mode == "offline":
        train, steps_per_epoch, teacher_feature_shapes = offline_training_batches(
            context, teacher, distill.batch_size, distill.epochs
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
        augmentation=training_augmentation.batch_augmentation(context.config, data),
        features=[
            feature.build(num_examples=run_data.num_examples(data.train))
            for feature in distill.features
        ]
        or None,
        teacher_feature_shapes=teacher_feature_shapes,
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
