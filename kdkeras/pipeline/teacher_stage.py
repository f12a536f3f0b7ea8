"""The teacher stage of `kdkeras run`: a ready `.keras` teacher, a
`keras.applications` preset fine-tuned in two resumable stages, or, for
texts, a Transformer trained on the labels."""

import os

import keras

from kdkeras.io_utils import atomic_path
from kdkeras.models import build_teacher, transfer
from kdkeras.pipeline import model_setup
from kdkeras.pipeline.training import final_metrics, train_on_labels


def run_teacher(context):
    """The teacher: the ready `teacher.path`, an ensemble of the ready
    `teacher.paths`, or a preset fine-tuned in two stages (`teacher_head`,
    `teacher_fine_tune`), each resumable."""
    config, folder, data = context.config, context.folder, context.data
    teacher_config = config.teacher
    if teacher_config.path is not None:
        teacher = model_setup.load_ready_model(
            teacher_config.path, "teacher.path", data.input_shape, data.num_classes
        )
        context.models["teacher"] = teacher
        return {"model": teacher_config.path}
    if teacher_config.paths is not None:
        return _ensemble(context)
    if data.tokenizer is not None:
        return _text_teacher(context)
    keras.utils.set_random_seed(config.run.seed)
    view = model_setup.teacher_view(teacher_config, data.input_shape)
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
        context.log.info(
            "  teacher head: %d epochs, the %s backbone frozen",
            teacher_config.head_epochs,
            teacher_config.preset,
        )
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
        context.log.info(
            "  teacher fine-tuning: %d epochs, %s",
            teacher_config.fine_tune_epochs,
            "the whole network trained"
            if from_scratch or teacher_config.num_unfrozen_layers is None
            else f"the top {teacher_config.num_unfrozen_layers} backbone layers "
            "unfrozen",
        )
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
    teacher = model_setup.with_view(core, view, data.input_shape, name="teacher")
    return context.save_model("teacher", teacher)


def _ensemble(context):
    """The teachers of `teacher.paths` as one `TeacherEnsemble`, saved."""
    from kdkeras.distillation import TeacherEnsemble

    teacher_config, data = context.config.teacher, context.data
    teachers = [
        model_setup.load_ready_model(
            path, f"teacher.paths[{index}]", data.input_shape, data.num_classes
        )
        for index, path in enumerate(teacher_config.paths)
    ]
    ensemble = TeacherEnsemble(
        teachers, weights=teacher_config.ensemble_weights, name="teacher"
    )
    context.log.info(
        "  teacher: the %s mean of %d teachers' logits",
        "weighted" if teacher_config.ensemble_weights else "equal-weight",
        len(teachers),
    )
    return context.save_model("teacher", ensemble)


def _text_teacher(context):
    """The Transformer of `teacher.transformer` over the token ids
    (`kdkeras.text.build_text_transformer`), trained on the labels as the
    scratch student is: resumable at the last finished epoch."""
    from kdkeras.text import build_text_transformer

    config, data = context.config, context.data
    settings = config.teacher.transformer
    keras.utils.set_random_seed(config.run.seed)
    teacher = build_text_transformer(
        data.tokenizer.vocabulary_size,
        data.tokenizer.sequence_length,
        data.num_classes,
        name="teacher",
        **settings.builder_arguments(),
    )
    batches = context.training_batches(settings.batch_size)
    return train_on_labels(context, "teacher", teacher, settings, batches)
