"""Whether a classifier outputs logits or probabilities, and converting them."""

import warnings

import keras
from keras import ops

from kdkeras.compat import producing_layer
from kdkeras.validation.keras_models import check_single_output, num_classes

OUTPUT_KINDS = ("auto", "logits", "probabilities")

# Probabilities are clipped here before the log: softmax(log(p)) == p for any
# p ≥ this floor, and the logits stay finite.
_PROBABILITY_FLOOR = 1e-7


def _is_softmax(activation):
    return activation is keras.activations.softmax or (
        getattr(activation, "__name__", None) == "softmax"
    )


def _output_layer(model):
    outputs = getattr(model, "outputs", None)
    if outputs and len(outputs) == 1:
        layer = producing_layer(outputs[0])
        if layer is not None:
            return layer
    layers = getattr(model, "layers", None)
    if isinstance(model, keras.Sequential) and layers:
        return layers[-1]
    return None


def ends_in_softmax(model):
    """Whether `model`'s single output comes out of a softmax.

    Looks through nested models to the layer that produces the output: a
    `Softmax` layer, an `Activation("softmax")` or a layer with
    `activation="softmax"` (as `keras.applications` heads have).

    Returns:
        `True` or `False`, or `None` when the structure cannot be inspected
        (a subclassed model).
    """
    layer = _output_layer(model)
    while isinstance(layer, keras.Model):
        inner = _output_layer(layer)
        if inner is None:
            return None
        layer = inner
    if layer is None:
        return None
    if isinstance(layer, keras.layers.Softmax):
        return True
    return _is_softmax(getattr(layer, "activation", None))


def resolve_output_kind(model, declared, argument_name):
    """Returns `"logits"` or `"probabilities"` for `model`.

    Args:
        model: A Keras model, or `None` for stored outputs (read as logits
            unless declared otherwise). A model with an `output_kind`
            attribute (e.g. `kdkeras.distillation.TeacherEnsemble`) says it
            itself.
        declared: One of `"auto"`, `"logits"`, `"probabilities"`.
        argument_name: The argument named in error messages.
    """
    if declared not in OUTPUT_KINDS:
        raise ValueError(
            f"`{argument_name}` must be one of {OUTPUT_KINDS}. "
            f"Received: {argument_name}={declared!r}"
        )
    if model is not None:
        check_single_output(model, argument_name.replace("_outputs", ""))
    if declared == "logits" and model is not None and ends_in_softmax(model):
        warnings.warn(
            f"{argument_name}='logits' was declared, but {model.name!r} ends in "
            "a softmax, so it outputs probabilities: they would be softened "
            f"as if they were logits. Pass {argument_name}='probabilities' "
            "(or 'auto').",
            stacklevel=3,
        )
    if declared != "auto":
        return declared
    if model is None:
        return "logits"
    own_kind = getattr(model, "output_kind", None)
    if own_kind in ("logits", "probabilities"):
        return own_kind
    softmax = ends_in_softmax(model)
    if softmax is None:
        raise ValueError(
            f"Cannot tell whether the model {model.name!r} outputs logits or "
            "probabilities (it is a subclassed model). Pass "
            f'{argument_name}="logits" or {argument_name}="probabilities".'
        )
    return "probabilities" if softmax else "logits"


def probabilities_to_logits(probabilities):
    """Turns class probabilities into logits: `log(max(p, 1e-7))`.

    `softmax(probabilities_to_logits(p)) == p` up to the floor, so temperature
    scaling of the result softens `p` exactly as it would the true logits.
    """
    probabilities = ops.convert_to_tensor(probabilities)
    return ops.log(ops.clip(probabilities, _PROBABILITY_FLOOR, 1.0))


def check_same_classes(teacher, student):
    """Raises `ValueError` if the two models output different class counts."""
    teacher_classes, student_classes = num_classes(teacher), num_classes(student)
    if None not in (teacher_classes, student_classes) and (
        teacher_classes != student_classes
    ):
        raise ValueError(
            "`teacher` and `student` must output the same number of classes. "
            f"Received: teacher with {teacher_classes} outputs, student with "
            f"{student_classes} outputs"
        )


def check_same_classes_of_logits(teacher_logits, student_logits):
    """Raises `ValueError` if two batches of logits have different widths."""
    teacher_classes = teacher_logits.shape[-1]
    student_classes = student_logits.shape[-1]
    if None not in (teacher_classes, student_classes) and (
        teacher_classes != student_classes
    ):
        raise ValueError(
            "The teacher's logits and the student's must have the same number "
            f"of classes. Received: teacher_logits with {teacher_classes} "
            f"classes, student logits with {student_classes}"
        )
