"""Two-stage transfer learning of a teacher, as the Keras guide describes it.

Stage 1 trains the new head with the backbone frozen. Stage 2 unfreezes the
top of the backbone (or all of it) and trains with a lower learning rate.
BatchNormalization layers of the backbone stay frozen, and so in inference
mode, in both stages: their statistics come from the pretraining data and a
small fine-tuning batch would destroy them (keras.io, "Transfer learning &
fine-tuning").
"""

import keras
import numpy as np

from kdkeras import validation
from kdkeras.models.layer_walk import walk_layers


def _backbone(model, backbone_name):
    try:
        return model.get_layer(backbone_name)
    except ValueError:
        raise ValueError(
            f"`model` has no layer named {backbone_name!r} to fine-tune. Build it "
            "with `kdkeras.models.build_teacher` or pass `backbone_name=`. "
            f"Received layers: {[layer.name for layer in model.layers]}"
        ) from None


def _flat_layers(backbone):
    return [
        layer for layer in walk_layers(backbone) if not isinstance(layer, keras.Model)
    ]


def set_batch_norm_momentum(model, momentum):
    """Sets the momentum of every BatchNormalization layer, nested ones too.

    `keras.applications` backbones use momentum 0.999, right for ImageNet
    runs of many thousand steps; trained from scratch for a few thousand
    steps, their moving statistics stay near their initial values and the
    model is wrong in inference mode (≈10% accuracy where training mode gives
    75%). Call this before `compile`, e.g. with 0.9.

    Returns:
        The number of layers changed.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(
            f"`momentum` must be in [0, 1). Received: momentum={momentum!r}"
        )
    layers = [
        layer
        for layer in walk_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    for layer in layers:
        layer.momentum = float(momentum)
    return len(layers)


def freeze_backbone(model, backbone_name="backbone"):
    """Stage-1 state: the whole backbone frozen, the head trainable."""
    model.trainable = True
    _backbone(model, backbone_name).trainable = False


def unfreeze_top(
    model, num_layers=None, backbone_name="backbone", freeze_batch_norm=True
):
    """Stage-2 state: the top `num_layers` backbone layers trainable.

    Args:
        model: A classifier with a nested backbone layer.
        num_layers: How many of the backbone's last layers with weights to
            unfreeze; `None` unfreezes all of them.
        backbone_name: Name of the backbone layer.
        freeze_batch_norm: Keep BatchNormalization layers frozen (in
            inference mode). Turn it off only for a backbone trained from
            scratch, whose statistics are not worth keeping.

    Returns:
        The names of the unfrozen layers.
    """
    backbone = _backbone(model, backbone_name)
    backbone.trainable = True
    weighted = [layer for layer in _flat_layers(backbone) if layer.weights]
    if num_layers is not None:
        if not isinstance(num_layers, int) or num_layers < 0:
            raise ValueError(
                "`num_layers` must be a non-negative integer or None. "
                f"Received: num_layers={num_layers!r}"
            )
        for layer in weighted[: len(weighted) - num_layers]:
            layer.trainable = False
    for layer in _flat_layers(backbone):
        if freeze_batch_norm and isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    return [layer.name for layer in weighted if layer.trainable]


def _check_arguments(
    model, train_data, validation_data, epochs, learning_rates, batch_size
):
    """Checks `fine_tune`'s arguments before the first stage trains."""
    validation.check_keras_model(model, "model")
    for name, value in epochs.items():
        validation.check_count(value, name, meaning="0 skips the stage")
    for name, value in learning_rates.items():
        validation.check_number(value, name, low=0, include_low=False)
    validation.check_positive_int(batch_size, "batch_size", allow_none=True)
    num_classes = validation.num_classes(model)
    for name, data in (
        ("train_data", train_data),
        ("validation_data", validation_data),
    ):
        if isinstance(data, tuple) and len(data) == 2:
            # Sparse labels out of range would end in a TensorFlow graph error.
            validation.check_examples(data[0], name)
            validation.check_class_labels(np.asarray(data[1]), num_classes, name)


def fine_tune(
    model,
    train_data,
    validation_data=None,
    head_epochs=5,
    head_learning_rate=1e-3,
    fine_tune_epochs=5,
    fine_tune_learning_rate=1e-5,
    num_unfrozen_layers=None,
    backbone_name="backbone",
    freeze_batch_norm=True,
    metrics=("accuracy",),
    callbacks=None,
    batch_size=None,
    verbose="auto",
):
    """Fine-tunes a transfer-learning classifier in two stages.

    Example:

    ```python
    teacher = kdkeras.models.build_teacher("mobilenet_v2", 10, (96, 96, 3))
    histories = kdkeras.transfer.fine_tune(teacher, train_dataset,
                                           validation_dataset,
                                           num_unfrozen_layers=20)
    ```

    Args:
        model: A classifier whose backbone is the nested layer `backbone_name`
            and whose output is logits (as `build_teacher` builds it).
        train_data: A `tf.data.Dataset` of `(images, labels)`, or a tuple
            `(x, y)` of arrays.
        validation_data: Passed to `fit`.
        head_epochs: Epochs of stage 1 (frozen backbone); 0 skips it.
        head_learning_rate: Adam learning rate of stage 1.
        fine_tune_epochs: Epochs of stage 2; 0 skips it.
        fine_tune_learning_rate: Adam learning rate of stage 2 (lower).
        num_unfrozen_layers: Backbone layers with weights unfrozen in stage 2,
            counted from the top; `None` unfreezes the whole backbone.
        backbone_name: Name of the backbone layer.
        freeze_batch_norm: See `unfreeze_top`.
        metrics: Metrics to compile with.
        callbacks: Keras callbacks for both stages.
        batch_size: Batch size when `train_data` is arrays.
        verbose: Verbosity of `fit`.

    Returns:
        A dict `{"head": History or None, "fine_tune": History or None}`.
    """
    x, y = train_data if isinstance(train_data, tuple) else (train_data, None)
    _check_arguments(
        model,
        train_data,
        validation_data,
        epochs={"head_epochs": head_epochs, "fine_tune_epochs": fine_tune_epochs},
        learning_rates={
            "head_learning_rate": head_learning_rate,
            "fine_tune_learning_rate": fine_tune_learning_rate,
        },
        batch_size=batch_size,
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def run_stage(learning_rate, epochs):
        # Recompiling makes the new `trainable` flags take effect.
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=loss,
            metrics=list(metrics),
        )
        return model.fit(
            x,
            y,
            validation_data=validation_data,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            # Arrays are shuffled by `fit`; a dataset shuffles itself (Keras
            # warns that `shuffle=True` is ignored for one).
            shuffle=y is not None,
            verbose=verbose,
        )

    histories = {"head": None, "fine_tune": None}
    if head_epochs:
        freeze_backbone(model, backbone_name)
        histories["head"] = run_stage(head_learning_rate, head_epochs)
    if fine_tune_epochs:
        unfreeze_top(model, num_unfrozen_layers, backbone_name, freeze_batch_norm)
        histories["fine_tune"] = run_stage(fine_tune_learning_rate, fine_tune_epochs)
    return histories
