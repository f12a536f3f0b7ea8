"""The models of a run: the student the config describes, the teacher's view,
and ready `.keras` models checked against the data before anything trains."""

import keras

from kdkeras.config.errors import ConfigError
from kdkeras.layers import ImageView
from kdkeras.models import get_preset


def student_candidate(student_config):
    """The `kdkeras.export.StudentCandidate` of a named `student` section:
    its architecture and the builder's options (`dropout` when set), so the
    run builds, and `student.budget` measures, one model."""
    from kdkeras.export.student_candidates import StudentCandidate

    architecture = student_config.architecture
    if architecture == "cnn":
        options = {
            "filters": tuple(student_config.filters),
            "dense_units": student_config.dense_units,
            "pooling": student_config.pooling,
        }
    elif architecture == "mlp":
        options = {"hidden_units": tuple(student_config.hidden_units)}
    elif architecture == "embedding_bag":
        hidden_units = student_config.hidden_units
        options = {
            "embedding_dim": student_config.embedding_dim,
            "hidden_units": hidden_units[0] if hidden_units else None,
        }
    elif architecture == "text_cnn":
        options = {
            "embedding_dim": student_config.embedding_dim,
            "filters": student_config.filters[0],
            "kernel_size": student_config.kernel_size,
        }
    else:
        options = {"width": student_config.width}
    if student_config.dropout:
        options["dropout"] = student_config.dropout
    return StudentCandidate(architecture, options)


def build_configured_student(
    student_config, input_shape, num_classes, name, tokenizer=None
):
    """The student of the `student` section (`student_candidate`), for
    images of `input_shape`, or for the token ids of `tokenizer` (a
    `kdkeras.text.WordTokenizer`).

    Raises:
        ConfigError: If the architecture cannot take these images, or a text
            CNN's kernel is longer than the tokenizer's texts.
    """
    candidate = student_candidate(student_config)
    if student_config.is_text:
        if (
            student_config.architecture == "text_cnn"
            and student_config.kernel_size > tokenizer.sequence_length
        ):
            raise ConfigError(
                [
                    "student.kernel_size: expected at most the tokenizer's "
                    f"sequence_length ({tokenizer.sequence_length}): the kernel "
                    "slides over the ids of one text; received "
                    f"{student_config.kernel_size}"
                ]
            )
        return candidate.build(
            (tokenizer.sequence_length,),
            num_classes,
            vocabulary_size=tokenizer.vocabulary_size,
            name=name,
        )
    try:
        return candidate.build(input_shape, num_classes, name=name)
    except ValueError as error:
        raise ConfigError(
            [
                f"student.architecture: expected a student that takes the data's "
                f"images of shape {tuple(input_shape)}; received "
                f"{student_config.architecture!r} ({error})"
            ]
        ) from None


def teacher_image_size(teacher_config, input_shape):
    """The teacher's `(height, width)`: configured, else the data's, at least
    the preset's smallest size."""
    if teacher_config.image_size is not None:
        return tuple(teacher_config.image_size)
    min_size = get_preset(teacher_config.preset).min_size
    return tuple(max(side, min_size) for side in input_shape[:2])


def check_teacher_preset(teacher_config, input_shape):
    """Refuses a preset teacher that cannot be built, before anything trains."""
    preset = get_preset(teacher_config.preset)
    size = teacher_image_size(teacher_config, input_shape)
    if min(size) < preset.min_size:
        raise ConfigError(
            [
                f"teacher.image_size: expected sides of at least {preset.min_size} "
                f"pixels for {preset.name}; received {list(size)}"
            ]
        )
    if teacher_config.width is not None and not preset.width_multiplier:
        raise ConfigError(
            [
                f"teacher.width: expected null for {preset.name}, which has no "
                f"width multiplier; received {teacher_config.width}"
            ]
        )


def teacher_view(teacher_config, input_shape):
    """How the preset teacher sees the data's images: resized, RGB, its own
    preprocessing (`kdkeras.layers.ImageView`)."""
    return ImageView(
        size=teacher_image_size(teacher_config, input_shape),
        channels=3,
        preprocessing=teacher_config.preset,
        name="teacher_view",
    )


def with_view(model, view, input_shape, name):
    """`model` behind `view`: a model that takes the data's raw images."""
    return keras.Sequential([keras.Input(tuple(input_shape)), view, model], name=name)


def load_ready_model(path, key, input_shape, num_classes, tokenizer=None):
    """Loads the `.keras` model at `path` given as config key `key`, checked.

    Args:
        path: The `.keras` file.
        key: Its config key, for errors.
        input_shape: The shape of one input of the data.
        num_classes: The number of classes.
        tokenizer: For texts, the run's `WordTokenizer`: a model with a
            `keras.layers.Embedding` must embed its `vocabulary_size` ids.

    Raises:
        ConfigError: If it cannot be loaded, does not take the data's images
            (or token ids) or does not output one score per class.
    """
    try:
        model = keras.saving.load_model(path)
    except Exception as error:  # Keras raises many kinds on a bad file.
        raise ConfigError(
            [f"{key}: expected a .keras model; received {path} ({error})"]
        ) from None
    expected_shape = (None, *input_shape)
    what = "images" if tokenizer is None else "token ids"
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or not _compatible(tuple(inputs[0].shape), expected_shape):
        takes_sequences = len(inputs) == 1 and len(inputs[0].shape) == 2
        raise ConfigError(
            [
                f"{key}: expected a model taking {what} of shape {expected_shape}; "
                f"received {path} taking {[tuple(i.shape) for i in inputs]}"
                + (
                    _another_tokenizer("sequence_length")
                    if tokenizer is not None and takes_sequences
                    else ""
                )
            ]
        )
    if len(outputs) != 1 or outputs[0].shape[-1] != num_classes:
        raise ConfigError(
            [
                f"{key}: expected a model with one output of {num_classes} class "
                f"scores; received {path} with outputs "
                f"{[tuple(o.shape) for o in outputs]}"
            ]
        )
    vocabulary_size = None if tokenizer is None else embedded_ids(model)
    if vocabulary_size is not None and vocabulary_size != tokenizer.vocabulary_size:
        raise ConfigError(
            [
                f"{key}: expected a model embedding the tokenizer's "
                f"{tokenizer.vocabulary_size} token ids; received {path}, whose "
                f"Embedding layer takes {vocabulary_size}"
                + _another_tokenizer("vocabulary_size")
            ]
        )
    return model


def _another_tokenizer(key):
    return (
        f" (the tokenizer's {key} differs: data.tokenizer.path must be the "
        "tokenizer the model was trained with)"
    )


def embedded_ids(model):
    """The `input_dim` of `model`'s first `keras.layers.Embedding` (nested
    models included): the number of token ids it takes; `None` without one."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding):
            return layer.input_dim
        if isinstance(layer, keras.Model):
            found = embedded_ids(layer)
            if found is not None:
                return found
    return None


def _compatible(shape, expected):
    return len(shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected, strict=True)
    )


def check_feature_layers(features, teacher, student):
    """Refuses `distill.features` naming layers the models do not have.

    Raises:
        ConfigError: Naming `distill.features[i].teacher_layer` (or
            `student_layer`) and the model's layers.
    """
    problems = []
    for index, feature in enumerate(features):
        for key, model in (("teacher_layer", teacher), ("student_layer", student)):
            name = getattr(feature, key)
            names = [layer.name for layer in model.layers]
            if name not in names:
                problems.append(
                    f"distill.features[{index}].{key}: expected a layer of the "
                    f"{key.split('_')[0]}, one of {names}; received {name!r}"
                )
    if problems:
        raise ConfigError(problems)
