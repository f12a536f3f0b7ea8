"""The forward passes of a `Distiller`: each model through its view.

In training, `Distiller.call` returns a dict keyed by `STUDENT_LOGITS` and
`TEACHER_LOGITS` (plus the feature lists of `kdkeras.distillation.features`);
`split_outputs` reads the logits back from it, or from the student's logits
alone as `predict` returns them.
"""

from keras import ops

from kdkeras.distillation import outputs as model_outputs

STUDENT_LOGITS, TEACHER_LOGITS = "student_logits", "teacher_logits"


class DistillerForward:
    """Mixin of `Distiller`: runs its models, each through its view.

    The model sets `student`, `teacher`, `student_view`, `teacher_view`,
    `_taps` (a `FeatureTaps` or `None`) and `_teacher_output_kind`.
    """

    def _student_logits(self, inputs, training):
        if self.student_view is not None:
            inputs = self.student_view(inputs)
        return self.student(inputs, training=training)

    def _teacher_logits(self, inputs):
        """The frozen teacher's logits (inference mode, no gradient)."""
        if self.teacher_view is not None:
            inputs = self.teacher_view(inputs)
        outputs = self.teacher(inputs, training=False)
        return ops.stop_gradient(self._as_logits(outputs))

    def _tapped_outputs(self, inputs):
        """Logits and the tapped layers' outputs of both models, as a dict."""
        student_inputs, teacher_inputs = inputs, inputs
        if self.student_view is not None:
            student_inputs = self.student_view(inputs)
        if self.teacher_view is not None:
            teacher_inputs = self.teacher_view(inputs)
        outputs = self._taps(student_inputs, teacher_inputs)
        if TEACHER_LOGITS in outputs:
            outputs[TEACHER_LOGITS] = ops.stop_gradient(
                self._as_logits(outputs[TEACHER_LOGITS])
            )
        return outputs

    def _as_logits(self, teacher_outputs):
        """The teacher's outputs (live or stored) as logits."""
        if self._teacher_output_kind == "probabilities":
            return model_outputs.probabilities_to_logits(teacher_outputs)
        return teacher_outputs


def split_outputs(y_pred):
    """`(student_logits, teacher_logits or None)` from what `call` returned."""
    if isinstance(y_pred, dict):
        return y_pred[STUDENT_LOGITS], y_pred.get(TEACHER_LOGITS)
    return y_pred, None
