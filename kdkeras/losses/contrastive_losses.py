"""Contrastive representation distillation (CRD) as pure functions.

Tian, Krishnan & Isola, 2020, "Contrastive Representation Distillation",
ICLR, arXiv:1910.10699. The student's and the teacher's embeddings (each a
learned linear head on a layer's flattened output, L2-normalised) are
contrasted against *memory banks*: one row per training example, holding a
running average of that example's past embeddings. For an anchor embedding
`v` of example `i` and the other model's bank `M`, the positive is `M[i]`
and the negatives are `K` other rows `M[j]`:

```
logit_j = M[j] · v / τ                         (j = i and the K negatives)
P_j     = exp(logit_j) / Z                     Z = N · mean(exp(logit)),
                                               estimated once, at the first batch
h_j     = P_j / (P_j + K / N)                  N: the bank's rows (examples)
loss_i  = −log h_i − Σ_negatives log(1 − h_j)
```

`K / N` is the noise term `K · P_n` of noise-contrastive estimation with a
uniform noise distribution `P_n = 1 / N` (the paper's Eq. 18 and `h` with
`N/M`; its reference code, RepDistiller `crd/criterion.py` `ContrastLoss`
and `crd/memory.py` `ContrastMemory`). CRD sums this loss both ways: the
student's embedding against the teacher's bank, and the teacher's embedding
against the student's bank. The values here are computed in log space
(`−log h = softplus(log(K/N) − log P)`, `−log(1 − h) = softplus(log P −
log(K/N))`), so the reference code's `eps = 1e-7` in the denominators is
not needed.

The functions return one value per example (shape `(batch,)`); their mean
over the batch is the reference code's loss. Negatives are given as indices
(`sample_negatives` draws them), so that every value can be checked by hand.
"""

import math

import keras
from keras import ops

PAPER_EMBEDDING_DIM = 128
"""The embedding heads' width (RepDistiller `--feat_dim`)."""

PAPER_NEGATIVES = 16384
"""Negatives per example (RepDistiller `--nce_k`)."""

PAPER_TEMPERATURE = 0.07
"""The temperature τ of the logits (RepDistiller `--nce_t`)."""

PAPER_MOMENTUM = 0.5
"""The momentum of the memory banks' update (RepDistiller `--nce_m`)."""

PAPER_WEIGHT = 0.8
"""The weight of the CRD loss beside the cross-entropy (RepDistiller
README and `scripts/run_cifar_distill.sh`: `-b 0.8`)."""

NORM_EPSILON = 1e-12
"""Squared norms are clamped to at least this before L2 normalisation."""


def l2_normalize(x):
    """Each row of `x` divided by its L2 norm (the reference's `Normalize`)."""
    x = ops.convert_to_tensor(x)
    squared = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squared, NORM_EPSILON))


def bank_init_limit(embedding_dim):
    """`sqrt(3 / d)`: banks start uniform in `[−limit, limit]`.

    The reference code's `stdv = 1 / sqrt(d / 3)`: each component then has
    variance `1 / d`, so a row's expected squared norm is 1. Rows are not
    normalised until their first update.
    """
    return 1.0 / math.sqrt(embedding_dim / 3.0)


def sample_negatives(example_index, num_examples, num_negatives, seed=None):
    """`num_negatives` bank rows per example, uniform over the *other* rows.

    Draws `r` uniform in `[0, N − 1)` and shifts it by one at and above the
    example's own index, so the positive is never drawn as its own negative
    (the reference code draws from all `N` rows, the positive included;
    with `K ≪ N` the two differ little). Rows may repeat.

    Args:
        example_index: `(batch,)` integer indices of the examples.
        num_examples: `N`, the number of bank rows (at least 2).
        num_negatives: `K`.
        seed: A `keras.random.SeedGenerator` or an integer.

    Returns:
        An int32 tensor of shape `(batch, K)`.
    """
    example_index = ops.cast(ops.reshape(example_index, (-1, 1)), "int32")
    draws = keras.random.randint(
        (ops.shape(example_index)[0], num_negatives),
        0,
        num_examples - 1,
        seed=seed,
        dtype="int32",
    )
    return draws + ops.cast(draws >= example_index, "int32")


def contrastive_logits(anchor, bank, example_index, negative_index, temperature):
    """`M[j] · v / τ` for the positive and the negatives: `(batch, 1 + K)`.

    Column 0 is the positive (the bank's row of the example itself), the
    next `K` columns the negatives, in the order of `negative_index`.
    Computed as the anchors (divided by τ) against the whole bank,
    `(batch, N)`, then gathered from that matrix flattened: `batch × N`
    floats, less than gathering `batch × K × d`, and a flat gather's
    gradient is one scatter-add (`take_along_axis` costs twice as much).
    """
    anchor = ops.convert_to_tensor(anchor)
    bank = ops.stop_gradient(ops.cast(ops.convert_to_tensor(bank), anchor.dtype))
    index = ops.concatenate(
        [
            ops.cast(ops.reshape(example_index, (-1, 1)), "int32"),
            ops.cast(negative_index, "int32"),
        ],
        axis=1,
    )
    scores = ops.matmul(anchor / temperature, ops.transpose(bank))
    rows, num_examples = ops.shape(scores)[0], ops.shape(scores)[1]
    row_start = ops.arange(rows, dtype="int32") * ops.cast(num_examples, "int32")
    flat_index = index + ops.expand_dims(row_start, 1)
    return ops.take(ops.reshape(scores, (-1,)), flat_index)


def log_normalizer(logits, num_examples):
    """`log Z` with `Z = N · mean(exp(logits))` over all the batch's logits.

    The reference code sets `Z` so at its first batch and keeps it; no
    gradient flows into it.
    """
    logits = ops.stop_gradient(ops.convert_to_tensor(logits))
    count = ops.cast(ops.size(logits), logits.dtype)
    return (
        ops.logsumexp(ops.reshape(logits, (-1,)))
        - ops.log(count)
        + math.log(num_examples)
    )


def nce_loss(logits, log_normalizer, num_examples):
    """Per-example NCE loss of `contrastive_logits` (column 0 the positive).

    `−log h_pos − Σ_neg log(1 − h_neg)` with `h = P / (P + K/N)` and
    `P = exp(logit) / Z`, computed as `softplus(log(K/N) − log P_pos) +
    Σ_neg softplus(log P_neg − log(K/N))` (the same values: `−log h =
    log(1 + (K/N) / P)` and `−log(1 − h) = log(1 + P / (K/N))`), one
    stable operation per logit.

    Args:
        logits: `(batch, 1 + K)`, from `contrastive_logits`.
        log_normalizer: `log Z`, a scalar.
        num_examples: `N`, the number of bank rows.

    Returns:
        `(batch,)`.
    """
    logits = ops.convert_to_tensor(logits)
    num_negatives = logits.shape[1] - 1
    log_noise = math.log(num_negatives / num_examples)
    # log P − log(K/N) of every column.
    margin = logits - (ops.cast(log_normalizer, logits.dtype) + log_noise)
    return ops.softplus(-margin[:, 0]) + ops.sum(ops.softplus(margin[:, 1:]), axis=1)


def crd_loss(
    teacher_embeddings,
    student_embeddings,
    teacher_bank,
    student_bank,
    example_index,
    negative_index,
    temperature=PAPER_TEMPERATURE,
    log_normalizers=None,
):
    """CRD's loss both ways, per example.

    `nce(student anchor vs the teacher's bank) + nce(teacher anchor vs the
    student's bank)`, both with the same negatives (as in the reference).

    Args:
        teacher_embeddings: `(batch, d)` L2-normalised teacher embeddings.
        student_embeddings: `(batch, d)` L2-normalised student embeddings.
        teacher_bank: `(N, d)` the teacher's memory bank.
        student_bank: `(N, d)` the student's memory bank.
        example_index: `(batch,)` the examples' rows in the banks.
        negative_index: `(batch, K)` the negatives' rows.
        temperature: τ.
        log_normalizers: `(log Z_student_anchor, log Z_teacher_anchor)`, or
            `None` to estimate both from this batch (`log_normalizer`).

    Returns:
        `(batch,)`.
    """
    num_examples = teacher_bank.shape[0]
    student_logits = contrastive_logits(
        student_embeddings, teacher_bank, example_index, negative_index, temperature
    )
    teacher_logits = contrastive_logits(
        teacher_embeddings, student_bank, example_index, negative_index, temperature
    )
    if log_normalizers is None:
        log_normalizers = (
            log_normalizer(student_logits, num_examples),
            log_normalizer(teacher_logits, num_examples),
        )
    return nce_loss(student_logits, log_normalizers[0], num_examples) + nce_loss(
        teacher_logits, log_normalizers[1], num_examples
    )


def update_bank(bank, embeddings, example_index, momentum=PAPER_MOMENTUM):
    """The bank with the batch's rows moved towards its embeddings.

    `M[i] ← normalize(momentum · M[i] + (1 − momentum) · v_i)` at each index
    `i` of the batch; the other rows are unchanged. With an index repeated in
    the batch, one of its updates wins.

    Returns:
        The new bank (a tensor; assign it to the variable).
    """
    bank = ops.convert_to_tensor(bank)
    index = ops.cast(ops.reshape(example_index, (-1,)), "int32")
    embeddings = ops.cast(ops.stop_gradient(embeddings), bank.dtype)
    rows = momentum * ops.take(bank, index, axis=0) + (1.0 - momentum) * embeddings
    return ops.scatter_update(bank, ops.expand_dims(index, 1), l2_normalize(rows))
