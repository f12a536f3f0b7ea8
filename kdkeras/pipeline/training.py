"""What every training stage of a run shares: callbacks, the optimizer, the fit.

Each stage trains with `keras.callbacks.BackupAndRestore` (the model, the
optimizer and the epoch, saved every epoch into the run folder, so a killed
run resumes at the last finished epoch), a `CSVLogger` of its history and,
by default, `TensorBoard`.
"""

import keras

from kdkeras.pipeline import run_data


def stage_callbacks(folder, stage, tensorboard=True, extra_callbacks=(), checks=()):
    """The callbacks of the training stage `stage` of the run in `folder`.

    Args:
        folder: The `RunFolder`.
        stage: The stage's name, e.g. `"distill"`: names its checkpoint,
            history and TensorBoard folders.
        tensorboard: Whether to write TensorBoard event files.
        extra_callbacks: More Keras callbacks, e.g. the user's own.
        checks: Callbacks that add values to the epoch's logs on some epochs
            only (`kdkeras.export.DeploymentCheck`): placed after the
            `CSVLogger`, whose columns are fixed at the first epoch, and
            before TensorBoard, which records them.
    """
    callbacks = [
        # Appends, so an interrupted stage keeps the epochs it finished. It
        # logs an epoch before the backup saves it: a kill in between repeats
        # that epoch's row, never loses it.
        keras.callbacks.CSVLogger(folder.history_path(stage), append=True),
        keras.callbacks.BackupAndRestore(folder.checkpoint_dir(stage)),
        *checks,
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(folder.tensorboard_dir(stage)))
    return callbacks + list(extra_callbacks)


def cosine_adam(learning_rate, epochs, steps_per_epoch):
    """Adam whose learning rate decays to 0 over the run (as `make demo`)."""
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=max(1, epochs * steps_per_epoch)
    )
    return keras.optimizers.Adam(schedule)


def label_loss():
    """Cross-entropy of logits against class ids: the student's label loss."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def final_metrics(history):
    """The last epoch's logs of a `History`, rounded for a summary line."""
    if history is None or not history.history:
        return {}
    return {
        name: round(float(values[-1]), 4)
        for name, values in history.history.items()
        if values
    }


def fit_stage(
    context, stage, model, settings, batches, steps_per_epoch=None, checks=()
):
    """Fits the compiled `model` as the stage `stage` and logs its last
    epoch's metrics.

    `settings.epochs` of `batches` (shuffled by the dataset itself),
    validated on the validation split in batches of `settings.batch_size`,
    with the stage's callbacks, a line per epoch.

    Args:
        context: The run's `RunContext`.
        stage: The stage's name, e.g. `"scratch"`.
        model: The compiled Keras model (or `Distiller`).
        settings: Its config section: `epochs` and `batch_size`.
        batches: The training batches.
        steps_per_epoch: As Keras' `fit`'s (`None`: the whole of `batches`).
        checks: As `stage_callbacks`'.
    """
    history = model.fit(
        batches,
        steps_per_epoch=steps_per_epoch,
        validation_data=context.validation_batches(settings.batch_size),
        epochs=settings.epochs,
        callbacks=context.callbacks(stage, checks=checks),
        shuffle=False,  # The batches are shuffled by the dataset itself.
        verbose=2,
    )
    context.log.info("  %s: %s", stage, final_metrics(history))


def train_on_labels(context, stage, model, settings, batches, steps_per_epoch=None):
    """Trains `model` on the labels as the stage `stage` and saves it.

    Adam whose learning rate decays over `settings.epochs` (`cosine_adam`),
    the label loss and accuracy, fitted by `fit_stage`.

    Args:
        context: The run's `RunContext`.
        stage: The stage's name, e.g. `"scratch"`.
        model: The Keras classifier, outputting logits.
        settings: Its config section: `learning_rate`, `epochs`, `batch_size`.
        batches: The training batches of `(inputs, class ids)`.
        steps_per_epoch: As Keras' `fit`'s (`None`: the whole of `batches`).

    Returns:
        The stage's artifacts (`context.save_model`).
    """
    steps = run_data.steps_per_epoch(context.data.train, settings.batch_size)
    model.compile(
        optimizer=cosine_adam(settings.learning_rate, settings.epochs, steps),
        loss=label_loss(),
        metrics=["accuracy"],
    )
    fit_stage(context, stage, model, settings, batches, steps_per_epoch)
    return context.save_model(stage, model)
