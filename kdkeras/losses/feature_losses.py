"""Feature-distillation losses as pure functions over feature maps.

Each returns one value per example (shape `(batch,)`); the teacher's features
are targets (no gradient flows into them). Feature maps are channels-last:
`(batch, height, width, channels)`, or `(batch, units)` for dense features.
"""

from keras import ops


def _flatten(features):
    return ops.reshape(features, (ops.shape(features)[0], -1))


def hint_loss(teacher_features, student_features):
    """FitNets hint loss: the mean squared error of (projected) features.

    ```
    loss = mean_{h, w, c} (r(s)[h, w, c] − t[h, w, c])²
    ```

    where `r(s)` is the student's feature map after the learned projection
    (Romero et al., 2015, "FitNets: Hints for Thin Deep Nets",
    arXiv:1412.6550; the paper's ½·‖·‖² up to the constant).

    Args:
        teacher_features: The teacher's features `t`.
        student_features: The student's projected features `r(s)`, same shape.

    Returns:
        Tensor `(batch,)`.
    """
    teacher_features = ops.stop_gradient(teacher_features)
    difference = _flatten(student_features - teacher_features)
    return ops.mean(ops.square(difference), axis=-1)


def attention_map(features, p=2):
    """The spatial attention map of a feature map, L2-normalized per example.

    `Q = normalize(vec(mean_c |A_c|^p))` (Zagoruyko & Komodakis, 2017,
    "Paying More Attention to Attention", arXiv:1612.03928; the mean over
    channels as in their code).

    Args:
        features: Tensor `(batch, height, width, channels)`.
        p: The power of the activations (the paper uses 2).

    Returns:
        Tensor `(batch, height · width)` with unit L2 norm per row.
    """
    attention = _flatten(ops.mean(ops.power(ops.abs(features), p), axis=-1))
    norm = ops.sqrt(ops.sum(ops.square(attention), axis=-1, keepdims=True))
    return attention / ops.maximum(norm, 1e-12)


def attention_transfer_loss(teacher_features, student_features, p=2):
    """Attention transfer: the squared distance of normalized attention maps.

    ```
    loss = mean_j (Q_s[j] − Q_t[j])²,   Q = attention_map(features, p)
    ```

    (Zagoruyko & Komodakis, 2017, arXiv:1612.03928; the paper weighs it by
    β/2 with β = 1000.) Only the spatial sizes must match: the channel counts
    of teacher and student may differ.

    Args:
        teacher_features: Tensor `(batch, height, width, teacher_channels)`.
        student_features: Tensor `(batch, height, width, student_channels)`.
        p: The power of the activations.

    Returns:
        Tensor `(batch,)`.
    """
    teacher_attention = ops.stop_gradient(attention_map(teacher_features, p))
    student_attention = attention_map(student_features, p)
    return ops.mean(ops.square(student_attention - teacher_attention), axis=-1)
