"""The scratch stage of `kdkeras run`: the student trained on the labels
alone (a plain Keras `fit`), or the ready `scratch.path`: the baseline every
distilled student is held against."""

from kdkeras.pipeline import model_setup, training_augmentation
from kdkeras.pipeline.context import new_student
from kdkeras.pipeline.training import train_on_labels


def run_scratch(context):
    """The baseline student, trained on the labels alone (or `scratch.path`)."""
    scratch = context.config.scratch
    if scratch.path is not None:
        context.models["student_scratch"] = model_setup.load_ready_model(
            scratch.path,
            "scratch.path",
            context.data.input_shape,
            context.data.num_classes,
        )
        return {"model": scratch.path}
    student = new_student(context, "student_scratch")
    train, steps_per_epoch = context.student_batches(scratch.batch_size, scratch.epochs)
    folder_augmentation = training_augmentation.batch_augmentation(
        context.config, context.data
    )
    if folder_augmentation is not None:
        train = training_augmentation.augmented_batches(train, folder_augmentation)
    return train_on_labels(context, "scratch", student, scratch, train, steps_per_epoch)
