"""Relational feature methods: the student's layer matches the relations
between the examples of a batch in the teacher's layer (RKD, PKT).

Registered beside `Hint` and `AttentionTransfer` with kind `"features"`
(`kdkeras.losses.get("rkd", teacher_layer=..., student_layer=...)`), for
`kdkeras.Distiller(features=[...])`. They own no weights: the teacher's and
the student's layers may have different widths, and feature maps are
flattened. Their loss functions are those of
`kdkeras.losses.relational_losses`.
"""

from kdkeras.losses import relational_losses
from kdkeras.losses.feature_methods import FeatureDistillation
from kdkeras.losses.registry import register_distillation_loss
from kdkeras.validation import check_number


def _check_relational_shapes(method, shapes):
    teacher_shape, student_shape = shapes
    if len(teacher_shape) < 2 or len(student_shape) < 2:
        raise ValueError(
            f"`{type(method).__name__}` compares embeddings (batch, units) or "
            "feature maps (batch, ..., channels). Received: teacher layer "
            f"{method.teacher_layer!r} of shape {teacher_shape}, student layer "
            f"{method.student_layer!r} of shape {student_shape}"
        )


@register_distillation_loss("rkd")
class RelationalKD(FeatureDistillation):
    """Relational KD: distances and angles between the batch's embeddings.

    ```
    loss = weight · (λ_D · mean l_δ(ψ_D^s − ψ_D^t) + λ_A · mean l_δ(ψ_A^s − ψ_A^t))
    ```

    `ψ_D` are the pairwise distances divided by their mean, `ψ_A` the cosines
    of the angles of all triplets, `l_δ` the Huber loss (Park et al., 2019,
    "Relational Knowledge Distillation", CVPR, arXiv:1904.05068); see
    `kdkeras.losses.relational_losses.rkd_loss`. Registered as `"rkd"`.

    The usual layers are the teacher's and the student's penultimate layers
    (their embeddings, the input of the classifier); teacher and student may
    have different widths, and a feature map is flattened. The loss is a
    property of the batch: each example's value is its row of the relations
    (its pairs, the triplets with their vertex at it), so their mean is the
    batch's loss, but an example's value depends on the rest of its batch.
    The angle term costs `batch³` memory.

    Args:
        teacher_layer: The name of the teacher's layer, e.g. its penultimate.
        student_layer: The name of the student's layer, e.g. its penultimate.
        weight: The weight of the whole loss.
        distance_weight: λ_D (25, the image-classification weight of the CRD
            benchmark code; the paper's metric learning uses 1).
        angle_weight: λ_A (50; the paper's metric learning uses 2).
        name: The layer's name.
    """

    def __init__(
        self,
        teacher_layer,
        student_layer,
        weight=1.0,
        distance_weight=25.0,
        angle_weight=50.0,
        name=None,
        **kwargs,
    ):
        super().__init__(
            teacher_layer, student_layer, weight=weight, name=name, **kwargs
        )
        distance_weight = check_number(distance_weight, "distance_weight", low=0)
        angle_weight = check_number(angle_weight, "angle_weight", low=0)
        self.distance_weight = float(distance_weight)
        self.angle_weight = float(angle_weight)

    def build(self, shapes):
        _check_relational_shapes(self, shapes)
        self.built = True

    def loss(self, teacher_features, student_features):
        return relational_losses.rkd_loss(
            teacher_features,
            student_features,
            distance_weight=self.distance_weight,
            angle_weight=self.angle_weight,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "distance_weight": self.distance_weight,
            "angle_weight": self.angle_weight,
        }


@register_distillation_loss("pkt")
class ProbabilisticKT(FeatureDistillation):
    """Probabilistic knowledge transfer: KL of cosine-kernel neighbourhoods.

    ```
    K(i, j) = (cos(e_i, e_j) + 1) / 2,   p(j | i) = K(i, j) / Σ_{k ≠ i} K(i, k)
    loss_i = weight · KL(p_t(· | i) ‖ p_s(· | i))
    ```

    Each example's distribution over its neighbours in the batch, in the
    student's space, learns to match the teacher's (Passalis & Tefas, 2018,
    "Learning Deep Representations with Probabilistic Knowledge Transfer",
    ECCV, arXiv:1803.10837); see
    `kdkeras.losses.relational_losses.pkt_loss`. Registered as `"pkt"`.

    The usual layers are the teacher's and the student's penultimate layers
    (their embeddings); teacher and student may have different widths, and a
    feature map is flattened. Each example's value is the KL of its own
    neighbourhood, which depends on the rest of its batch.

    Args:
        teacher_layer: The name of the teacher's layer, e.g. its penultimate.
        student_layer: The name of the student's layer, e.g. its penultimate.
        weight: The weight of the loss.
        name: The layer's name.
    """

    def build(self, shapes):
        _check_relational_shapes(self, shapes)
        self.built = True

    def loss(self, teacher_features, student_features):
        return relational_losses.pkt_loss(teacher_features, student_features)
