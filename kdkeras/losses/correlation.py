"""Correlation-based distillation over logits: DIST (Huang et al., 2022).

Like the functions of `kdkeras.losses.functional`, `dist_loss` returns one
value per sample (shape `(batch,)`) and takes the teacher's logits as targets
(no gradient flows into them). Unlike them, part of its value is a statistic
of the whole batch: see `dist_loss`.
"""

from keras import ops

from kdkeras.losses.functional import _softened_log_probs

PEARSON_EPSILON = 1e-8
"""Added to the product of the norms in the Pearson correlation, so that a
constant vector (zero after centring) has correlation 0 instead of NaN."""


def pearson_correlation(a, b, axis=-1, epsilon=PEARSON_EPSILON):
    """Pearson correlation of `a` and `b` along `axis`.

    ```
    a' = a − mean(a),  b' = b − mean(b)
    r  = Σ a'·b' / (‖a'‖ · ‖b'‖ + ε)
    ```

    A vector that is constant along `axis` gives `r = 0` (and a finite
    gradient): its centred norm is zero.

    Args:
        a: Tensor.
        b: Tensor of the same shape.
        axis: The axis along which the correlation is taken.
        epsilon: Added to the product of the norms.

    Returns:
        Tensor: `a`'s shape without `axis`.
    """
    a = a - ops.mean(a, axis=axis, keepdims=True)
    b = b - ops.mean(b, axis=axis, keepdims=True)

    def norm(centred):
        # The square root of at least 1e-30: its gradient at a constant
        # vector (a zero centred norm) stays finite.
        return ops.sqrt(ops.maximum(ops.sum(ops.square(centred), axis=axis), 1e-30))

    return ops.sum(a * b, axis=axis) / (norm(a) * norm(b) + epsilon)


def dist_loss(
    teacher_logits,
    student_logits,
    temperature=1.0,
    inter_weight=1.0,
    intra_weight=1.0,
):
    """DIST: match the teacher's class *relations*, not its exact probabilities.

    Huang, You, Wang, Qian & Xu, 2022, "Knowledge Distillation from A Stronger
    Teacher", NeurIPS, arXiv:2205.10536. KL divergence asks the student to
    reproduce the teacher's probabilities exactly; DIST only asks them to be
    linearly correlated, which a student much weaker than its teacher can
    achieve:

    ```
    p_s = softmax(student_logits / T),  p_t = softmax(teacher_logits / T)
    inter_i = T² · (1 − pearson(p_s[i, :], p_t[i, :]))       over the classes
    intra   = T² · mean_c (1 − pearson(p_s[:, c], p_t[:, c]))  over the batch
    loss_i  = β · inter_i + γ · intra
    ```

    so that `mean_i loss_i = β · mean_i inter_i + γ · intra`, the paper's
    loss. `pearson` adds ε = 1e-8 to the product of the norms, so constant
    rows (or columns) give a finite value.

    The intra-class term is a statistic of the batch: it is added, the same,
    to every sample's value. Hence sample weights only weight the
    inter-class term (the intra-class term counts `Σ w_i / batch` times), the
    per-sample values are not independent of the rest of the batch, and a
    batch of one gives `intra = T²` (a column of one value is constant),
    which trains nothing.

    Defaults: β = γ = 1 (inter_weight, intra_weight) as in the paper and its
    reference code; the reference code softens at τ = 1 on ImageNet and at
    τ = 4 on CIFAR-100 (its `dist` and `dist_t4` settings), and weighs the
    whole DIST loss 2 to the cross-entropy's 1 (a `Distiller` with
    `alpha = 1/3` keeps that ratio). `temperature` defaults to 1, the
    ImageNet setting.

    Top-k cached teacher logits (`kdkeras.caches.topk`) are rebuilt with every
    class outside the top k at one fill value, `logsumexp(rest) − log(C − k)`:
    the teacher's softened probabilities are then exact on its top k and flat
    on the rest. The inter-class correlation is then computed against a
    teacher with no ranking among its tail classes, so the student's tail is
    only asked to be flat; the intra-class correlation of a class that sits in
    the tail for every sample of the batch compares against the fill values,
    which vary across the batch only with each sample's remaining mass. With
    a small k, DIST transfers mostly the top-k relations.

    Args:
        teacher_logits: Tensor `(batch, classes)`, the teacher's logits.
        student_logits: Tensor `(batch, classes)`, the student's logits.
        temperature: Positive float `T`, the softening temperature.
        inter_weight: Weight β of the inter-class (per-sample) term.
        intra_weight: Weight γ of the intra-class (batch) term.

    Returns:
        Tensor `(batch,)`: `β · inter_i + γ · intra` for each sample.
    """
    teacher_log_probs, student_log_probs = _softened_log_probs(
        teacher_logits, student_logits, temperature
    )
    if len(student_log_probs.shape) != 2:
        raise ValueError(
            "`dist_loss` takes logits of shape (batch, classes). Received: "
            f"student_logits of shape {tuple(student_log_probs.shape)}"
        )
    teacher_probs = ops.exp(teacher_log_probs)
    student_probs = ops.exp(student_log_probs)
    scale = temperature**2
    inter = scale * (1.0 - pearson_correlation(student_probs, teacher_probs, axis=1))
    intra = scale * ops.mean(
        1.0 - pearson_correlation(student_probs, teacher_probs, axis=0)
    )
    return inter_weight * inter + intra_weight * intra
