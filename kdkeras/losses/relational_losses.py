"""Relational distillation losses: the student matches the *relations*
between the examples of a batch in the teacher's embedding space, not the
embeddings themselves (RKD, PKT).

Each function takes the teacher's and the student's embeddings, `(batch, d)`
(feature maps are flattened to `(batch, height · width · channels)` first),
and returns one value per example (shape `(batch,)`) whose mean over the
batch is the batch's loss. The teacher's embeddings are targets (no gradient
flows into them). Teacher and student may have different widths `d`: only
distances, angles and similarities *within* each model are compared.

The losses are properties of the whole batch: an example's value depends on
the other examples of its batch, and so does its gradient. The per-example
value is the example's row of the relation (its own pairs, the triplets with
their vertex at it, its conditional distribution), so that sample weights
weight the rows. A batch of one example has no relations: its loss is 0.
"""

from keras import ops

DISTANCE_EPSILON = 1e-12
"""Squared distances are clamped to at least this before their square root,
so that the gradient at coinciding embeddings is finite."""

PKT_EPSILON = 1e-7
"""Added inside PKT's logarithm and to its normalisers (as in the paper's
reference code), so that zero probabilities give finite values."""


def _embeddings(teacher_embeddings, student_embeddings):
    """Both flattened to `(batch, d)`, the teacher's without gradient, in the
    student's dtype; their batch sizes checked."""
    student_embeddings = ops.convert_to_tensor(student_embeddings)
    teacher_embeddings = ops.stop_gradient(ops.convert_to_tensor(teacher_embeddings))
    teacher_embeddings = ops.cast(teacher_embeddings, student_embeddings.dtype)
    for name, value in (
        ("teacher_embeddings", teacher_embeddings),
        ("student_embeddings", student_embeddings),
    ):
        if len(value.shape) < 2:
            raise ValueError(
                f"`{name}` must have a batch axis and at least one feature axis, "
                f"(batch, d) or (batch, height, width, channels). Received: {name} "
                f"of shape {tuple(value.shape)}"
            )
    teacher_batch, student_batch = (
        teacher_embeddings.shape[0],
        student_embeddings.shape[0],
    )
    if None not in (teacher_batch, student_batch) and teacher_batch != student_batch:
        raise ValueError(
            "`teacher_embeddings` and `student_embeddings` must hold the same "
            f"examples (the same batch size). Received: teacher_embeddings of shape "
            f"{tuple(teacher_embeddings.shape)}, student_embeddings of shape "
            f"{tuple(student_embeddings.shape)}"
        )

    def flat(value):
        return ops.reshape(value, (ops.shape(value)[0], -1))

    return flat(teacher_embeddings), flat(student_embeddings)


def _off_diagonal(batch_size, dtype):
    """`(batch, batch)`: 1 where `i ≠ j`, 0 on the diagonal."""
    return 1.0 - ops.eye(batch_size, dtype=dtype)


def _gram_of_centred(embeddings):
    """`(G, D)`: the Gram matrix and the pairwise distances of the embeddings.

    The embeddings are centred first (distances and angles do not change),
    which keeps `‖a‖² + ‖b‖² − 2a·b` accurate when the embeddings are far
    from the origin. `D[i, i] = 0`; other distances are at least
    `sqrt(DISTANCE_EPSILON)`.
    """
    embeddings = embeddings - ops.mean(embeddings, axis=0, keepdims=True)
    gram = ops.matmul(embeddings, ops.transpose(embeddings))
    squared_norms = ops.diagonal(gram)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * gram
    distances = ops.sqrt(ops.maximum(squared, DISTANCE_EPSILON))
    return gram, distances * _off_diagonal(ops.shape(gram)[0], gram.dtype)


def smooth_l1(difference):
    """Huber loss with δ = 1: `½x²` for `|x| < 1`, else `|x| − ½`."""
    absolute = ops.abs(difference)
    return ops.where(absolute < 1.0, 0.5 * ops.square(difference), absolute - 0.5)


def normalized_distances(embeddings):
    """RKD's distance potential `ψ_D`: pairwise distances over their mean.

    ```
    ψ_D(i, j) = ‖e_i − e_j‖ / μ,   μ = mean_{i ≠ j} ‖e_i − e_j‖
    ```

    Args:
        embeddings: Tensor `(batch, d)`.

    Returns:
        Tensor `(batch, batch)`, 0 on the diagonal.
    """
    _, distances = _gram_of_centred(embeddings)
    batch_size = ops.cast(ops.shape(distances)[0], distances.dtype)
    pairs = ops.maximum(batch_size * (batch_size - 1.0), 1.0)
    mean_distance = ops.sum(distances) / pairs
    return distances / ops.maximum(mean_distance, DISTANCE_EPSILON)


def triplet_cosines(embeddings):
    """RKD's angle potential `ψ_A`: the cosine of the angle at every vertex.

    ```
    ψ_A(i, j, k) = ⟨e_j − e_i, e_k − e_i⟩ / (‖e_j − e_i‖ · ‖e_k − e_i‖)
    ```

    the cosine of the angle at `e_i` of the triangle `(e_j, e_i, e_k)`,
    computed from the Gram matrix (no `(batch, batch, d)` tensor). Degenerate
    triplets (`j = i` or `k = i`) are 0.

    Args:
        embeddings: Tensor `(batch, d)`.

    Returns:
        Tensor `(batch, batch, batch)`, indexed `[i, j, k]`.
    """
    gram, distances = _gram_of_centred(embeddings)
    squared_norms = ops.diagonal(gram)
    # ⟨e_j − e_i, e_k − e_i⟩ = G[j, k] − G[i, j] − G[i, k] + G[i, i].
    products = (
        gram[None, :, :]
        - gram[:, :, None]
        - gram[:, None, :]
        + squared_norms[:, None, None]
    )
    lengths = distances[:, :, None] * distances[:, None, :]
    off_diagonal = _off_diagonal(ops.shape(gram)[0], gram.dtype)
    valid = off_diagonal[:, :, None] * off_diagonal[:, None, :]
    cosines = products / ops.maximum(lengths, DISTANCE_EPSILON)
    return ops.clip(cosines, -1.0, 1.0) * valid


def rkd_distance_loss(teacher_embeddings, student_embeddings):
    """RKD distance-wise loss: Huber loss of normalised pairwise distances.

    ```
    loss_i = mean_j l_δ(ψ_D^s(i, j) − ψ_D^t(i, j))
    ```

    with `ψ_D` of `normalized_distances` and `l_δ` the Huber loss (δ = 1).
    The mean over `i` is the mean over all `batch²` pairs, the paper's sum
    over `X²` (Park, Kim, Lu & Cho, 2019, "Relational Knowledge
    Distillation", CVPR, arXiv:1904.05068, eq. 4–5; the pairs `i = j` count
    0, as in its reference code).

    Args:
        teacher_embeddings: Tensor `(batch, d_t)` (or a feature map).
        student_embeddings: Tensor `(batch, d_s)` (or a feature map).

    Returns:
        Tensor `(batch,)`.
    """
    teacher, student = _embeddings(teacher_embeddings, student_embeddings)
    difference = normalized_distances(student) - normalized_distances(teacher)
    return ops.mean(smooth_l1(difference), axis=1)


def rkd_angle_loss(teacher_embeddings, student_embeddings):
    """RKD angle-wise loss: Huber loss of the cosines of all triplet angles.

    ```
    loss_i = mean_{j, k} l_δ(ψ_A^s(i, j, k) − ψ_A^t(i, j, k))
    ```

    with `ψ_A` of `triplet_cosines` (the angle at `e_i`) and `l_δ` the Huber
    loss (δ = 1). The mean over `i` is the mean over all `batch³` triplets,
    the paper's sum over `X³` (Park et al., 2019, arXiv:1904.05068, eq. 6–7;
    degenerate triplets count 0). Memory grows as `batch³`.

    Args:
        teacher_embeddings: Tensor `(batch, d_t)` (or a feature map).
        student_embeddings: Tensor `(batch, d_s)` (or a feature map).

    Returns:
        Tensor `(batch,)`.
    """
    teacher, student = _embeddings(teacher_embeddings, student_embeddings)
    difference = triplet_cosines(student) - triplet_cosines(teacher)
    return ops.mean(smooth_l1(difference), axis=(1, 2))


def rkd_loss(
    teacher_embeddings, student_embeddings, distance_weight=25.0, angle_weight=50.0
):
    """Relational KD: `λ_D · rkd_distance_loss + λ_A · rkd_angle_loss`.

    Park et al., 2019, "Relational Knowledge Distillation", CVPR,
    arXiv:1904.05068. The defaults λ_D = 25, λ_A = 50 are the image
    classification weights of the CRD benchmark code (Tian et al., 2020,
    arXiv:1910.10699), which compares RKD on CIFAR-100; the paper's own
    metric-learning code uses λ_D = 1, λ_A = 2. A weight of 0 skips its term
    (the angle term costs `batch³` memory).

    Args:
        teacher_embeddings: Tensor `(batch, d_t)` (or a feature map).
        student_embeddings: Tensor `(batch, d_s)` (or a feature map).
        distance_weight: λ_D.
        angle_weight: λ_A.

    Returns:
        Tensor `(batch,)`.
    """
    teacher, student = _embeddings(teacher_embeddings, student_embeddings)
    loss = ops.zeros((ops.shape(student)[0],), student.dtype)
    if distance_weight:
        loss = loss + distance_weight * rkd_distance_loss(teacher, student)
    if angle_weight:
        loss = loss + angle_weight * rkd_angle_loss(teacher, student)
    return loss


def _unit_rows(embeddings):
    squared_norms = ops.sum(ops.square(embeddings), axis=1, keepdims=True)
    return embeddings / (ops.sqrt(ops.maximum(squared_norms, 1e-30)) + PKT_EPSILON)


def cosine_conditional_probabilities(embeddings):
    """PKT's conditional distributions from the cosine-similarity kernel.

    ```
    K(i, j) = (cos(e_i, e_j) + 1) / 2                  in [0, 1]
    p(j | i) = K(i, j) / Σ_{k ≠ i} K(i, k)             for j ≠ i, p(i | i) = 0
    ```

    Args:
        embeddings: Tensor `(batch, d)`.

    Returns:
        Tensor `(batch, batch)`: row `i` is `p(· | i)`.
    """
    unit = _unit_rows(embeddings)
    kernel = (ops.matmul(unit, ops.transpose(unit)) + 1.0) / 2.0
    kernel = kernel * _off_diagonal(ops.shape(kernel)[0], kernel.dtype)
    return kernel / (ops.sum(kernel, axis=1, keepdims=True) + PKT_EPSILON)


def pkt_loss(teacher_embeddings, student_embeddings):
    """Probabilistic knowledge transfer: KL of the cosine-kernel conditionals.

    ```
    loss_i = Σ_{j ≠ i} p_t(j | i) · log((p_t(j | i) + ε) / (p_s(j | i) + ε))
    ```

    with `p(j | i)` of `cosine_conditional_probabilities` and ε = 1e-7
    (Passalis & Tefas, 2018, "Learning Deep Representations with
    Probabilistic Knowledge Transfer", ECCV, arXiv:1803.10837: the
    cosine-similarity kernel, which needs no bandwidth). `loss_i` is the
    KL(teacher ‖ student) of example `i`'s conditional distribution; their
    mean is the paper's sum over `i` divided by the batch size. The reference
    code keeps `j = i` in the distributions and averages over all `batch²`
    terms, a value about `1 / batch` times this one.

    Args:
        teacher_embeddings: Tensor `(batch, d_t)` (or a feature map).
        student_embeddings: Tensor `(batch, d_s)` (or a feature map).

    Returns:
        Tensor `(batch,)`.
    """
    teacher, student = _embeddings(teacher_embeddings, student_embeddings)
    teacher_probs = cosine_conditional_probabilities(teacher)
    student_probs = cosine_conditional_probabilities(student)
    log_ratio = ops.log((teacher_probs + PKT_EPSILON) / (student_probs + PKT_EPSILON))
    return ops.sum(teacher_probs * log_ratio, axis=1)
