"""Distillation losses as pure functions over logits.

Every function returns one loss value per sample (shape `(batch,)`); the
`keras.losses.Loss` classes in `kdkeras.losses.losses` reduce them with sample
weights. Teacher logits are targets: no gradient flows into them.
"""

import numpy as np
from keras import ops

from kdkeras.validation import check_class_labels, check_same_shape


def check_temperature(temperature):
    """Raises a Keras-style error unless `temperature` is a number > 0."""
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool):
        raise TypeError(
            "`temperature` must be a positive number. "
            f"Received: temperature={temperature!r} of type {type(temperature)}"
        )
    if not 0 < temperature < float("inf"):
        raise ValueError(
            f"`temperature` must be > 0 and finite. Received: temperature={temperature}"
        )


def _check_static_temperature(temperature):
    # A scheduled temperature is a tensor, checked where it is scheduled.
    if not hasattr(temperature, "shape"):
        check_temperature(temperature)


# Logits are clipped to ±LOGIT_LIMIT before softening: near the float32 limit
# (3.4e38) the difference of two logits overflows to inf, and the KL's
# `0 · (−inf)` gives NaN. No trained model produces logits near 1e30, so the
# clip changes no real value, and every loss and gradient stays finite for any
# logits a float32 can hold.
LOGIT_LIMIT = 1e30


def _softened_log_probs(teacher_logits, student_logits, temperature):
    _check_static_temperature(temperature)
    teacher_logits = ops.stop_gradient(ops.convert_to_tensor(teacher_logits))
    student_logits = ops.convert_to_tensor(student_logits)
    check_same_shape(teacher_logits=teacher_logits, student_logits=student_logits)
    teacher_logits = ops.cast(teacher_logits, student_logits.dtype)
    teacher_logits = ops.clip(teacher_logits, -LOGIT_LIMIT, LOGIT_LIMIT)
    student_logits = ops.clip(student_logits, -LOGIT_LIMIT, LOGIT_LIMIT)
    teacher_log_probs = ops.log_softmax(teacher_logits / temperature, axis=-1)
    student_log_probs = ops.log_softmax(student_logits / temperature, axis=-1)
    return teacher_log_probs, student_log_probs


def kd_loss(teacher_logits, student_logits, temperature=1.0):
    """Hinton knowledge-distillation loss: KL of temperature-softened outputs.

    ```
    p_t = softmax(teacher_logits / T),  p_s = softmax(student_logits / T)
    loss = T² · Σ_c p_t[c] · (log p_t[c] − log p_s[c])
    ```

    The T² factor keeps the gradient magnitude of the soft targets independent
    of the temperature (Hinton, Vinyals & Dean, 2015, "Distilling the Knowledge
    in a Neural Network", arXiv:1503.02531, section 2). Log-probabilities come
    from `log_softmax`, so logits of ±1e3 give finite values.

    Args:
        teacher_logits: Tensor `(batch, classes)`, the teacher's logits.
        student_logits: Tensor `(batch, classes)`, the student's logits.
        temperature: Positive float `T`; 1 leaves the distributions unchanged.

    Returns:
        Tensor `(batch,)`: the scaled KL divergence of each sample.
    """
    teacher_log_probs, student_log_probs = _softened_log_probs(
        teacher_logits, student_logits, temperature
    )
    teacher_probs = ops.exp(teacher_log_probs)
    kl = ops.sum(teacher_probs * (teacher_log_probs - student_log_probs), axis=-1)
    return (temperature**2) * kl


def standardize_logits(logits, epsilon=1e-7):
    """Z-scores each row of logits: `(z − mean(z)) / (std(z) + ε)`.

    `std` is the sample standard deviation (divided by `classes − 1`), as in
    the reference code of Sun et al. (2024).
    """
    logits = ops.clip(ops.convert_to_tensor(logits), -LOGIT_LIMIT, LOGIT_LIMIT)
    # Rows beyond ±1e15 are scaled down first (the z-score does not change)
    # so that their squares fit in a float32; other rows are divided by 1.
    largest = ops.max(ops.abs(logits), axis=-1, keepdims=True)
    logits = logits / ops.maximum(largest / 1e15, 1.0)
    mean = ops.mean(logits, axis=-1, keepdims=True)
    num_classes = ops.cast(ops.shape(logits)[-1], logits.dtype)
    variance = ops.sum(ops.square(logits - mean), axis=-1, keepdims=True) / (
        num_classes - 1.0
    )
    return (logits - mean) / (ops.sqrt(variance) + epsilon)


def standardized_kd_loss(teacher_logits, student_logits, temperature=2.0):
    """KD on z-scored logits (Sun et al., 2024, "Logit Standardization in
    Knowledge Distillation", CVPR, arXiv:2403.01427).

    ```
    Z(z) = (z − mean(z)) / std(z)           per sample, over the classes
    loss = T² · KL(softmax(Z(t) / T) ‖ softmax(Z(s) / T))
    ```

    The student matches the *ranking and relative gaps* of the teacher's
    logits, not their range: a teacher whose logits are compressed (trained
    with label smoothing, or much larger than the student) no longer forces
    the student to copy that scale, and no single temperature has to suit
    both models. Unchanged by adding a constant to, or multiplying by a
    positive number, either model's logits.

    Args:
        teacher_logits: Tensor `(batch, classes)`, the teacher's logits.
        student_logits: Tensor `(batch, classes)`, the student's logits.
        temperature: Positive float `T` (the paper's base temperature: 2).

    Returns:
        Tensor `(batch,)`.
    """
    teacher_logits = ops.stop_gradient(ops.convert_to_tensor(teacher_logits))
    student_logits = ops.convert_to_tensor(student_logits)
    check_same_shape(teacher_logits=teacher_logits, student_logits=student_logits)
    teacher_logits = ops.cast(teacher_logits, student_logits.dtype)
    return kd_loss(
        standardize_logits(teacher_logits),
        standardize_logits(student_logits),
        temperature=temperature,
    )


def soft_target_cross_entropy(teacher_logits, student_logits, temperature=1.0):
    """Cross-entropy of the student against the teacher's softened outputs.

    ```
    loss = −T² · Σ_c softmax(teacher_logits / T)[c] · log_softmax(student_logits / T)[c]
    ```

    It equals `kd_loss` plus T² times the teacher's entropy, a constant for the
    student, so gradients are the same; the value is the cross-entropy form of
    Hinton et al., 2015 (arXiv:1503.02531).

    Args:
        teacher_logits: Tensor `(batch, classes)`, the teacher's logits.
        student_logits: Tensor `(batch, classes)`, the student's logits.
        temperature: Positive float `T`.

    Returns:
        Tensor `(batch,)`.
    """
    teacher_log_probs, student_log_probs = _softened_log_probs(
        teacher_logits, student_logits, temperature
    )
    teacher_probs = ops.exp(teacher_log_probs)
    return -(temperature**2) * ops.sum(teacher_probs * student_log_probs, axis=-1)


def logit_mse(teacher_logits, student_logits):
    """Mean squared error between student and teacher logits.

    ```
    loss = mean_c (student_logits[c] − teacher_logits[c])²
    ```

    Regressing the logits directly is the high-temperature limit of `kd_loss`
    for zero-mean logits (Ba & Caruana, 2014, "Do Deep Nets Really Need to be
    Deep?", arXiv:1312.6184).

    Args:
        teacher_logits: Tensor `(batch, classes)`.
        student_logits: Tensor `(batch, classes)`.

    Returns:
        Tensor `(batch,)`.
    """
    student_logits = ops.convert_to_tensor(student_logits)
    teacher_logits = ops.cast(
        ops.stop_gradient(ops.convert_to_tensor(teacher_logits)),
        student_logits.dtype,
    )
    check_same_shape(teacher_logits=teacher_logits, student_logits=student_logits)
    return ops.mean(ops.square(student_logits - teacher_logits), axis=-1)


def hard_pseudo_label_cross_entropy(teacher_logits, student_logits):
    """Cross-entropy of the student against the teacher's top-1 class.

    ```
    loss = −log_softmax(student_logits)[argmax_c teacher_logits[c]]
    ```

    The teacher's argmax serves as a hard pseudo-label (Lee, 2013, "Pseudo-Label";
    Xie et al., 2020, "Self-training with Noisy Student", arXiv:1911.04252).
    It carries no temperature: the argmax does not depend on it.

    Args:
        teacher_logits: Tensor `(batch, classes)`.
        student_logits: Tensor `(batch, classes)`.

    Returns:
        Tensor `(batch,)`.
    """
    teacher_logits = ops.convert_to_tensor(teacher_logits)
    student_logits = ops.convert_to_tensor(student_logits)
    check_same_shape(teacher_logits=teacher_logits, student_logits=student_logits)
    pseudo_labels = ops.argmax(ops.stop_gradient(teacher_logits), axis=-1)
    return ops.sparse_categorical_crossentropy(
        pseudo_labels, student_logits, from_logits=True
    )


def label_cross_entropy(labels, student_logits):
    """Cross-entropy of the student's logits against hard labels.

    Integer labels `(batch,)` or `(batch, 1)` are sparse; labels of shape
    `(batch, classes)` are one-hot (or smoothed) distributions.

    ```
    loss = −Σ_c y[c] · log_softmax(student_logits)[c]
    ```

    Args:
        labels: Integer class ids or per-class target probabilities.
        student_logits: Tensor `(batch, classes)`.

    Returns:
        Tensor `(batch,)`.
    """
    student_logits = ops.convert_to_tensor(student_logits)
    labels = ops.convert_to_tensor(labels)
    if len(labels.shape) == len(student_logits.shape) and labels.shape[-1] != 1:
        student_log_probs = ops.log_softmax(student_logits, axis=-1)
        labels = ops.cast(labels, student_log_probs.dtype)
        return -ops.sum(labels * student_log_probs, axis=-1)
    if len(labels.shape) == len(student_logits.shape):
        labels = ops.squeeze(labels, axis=-1)
    return ops.sparse_categorical_crossentropy(
        ops.cast(labels, "int32"), student_logits, from_logits=True
    )


def target_mask(labels, num_classes, dtype="float32"):
    """One-hot rows `(batch, num_classes)` of the target classes.

    Args:
        labels: Class ids of shape `(batch,)` or `(batch, 1)`, or one-hot (or
            soft) rows of shape `(batch, num_classes)`, whose argmax is taken.
        num_classes: The number of classes.
        dtype: The dtype of the mask.
    """
    labels = ops.convert_to_tensor(labels)
    if len(labels.shape) == 2 and labels.shape[-1] == num_classes and num_classes > 1:
        labels = ops.argmax(labels, axis=-1)
    class_ids = ops.cast(ops.reshape(labels, (-1,)), "int32")
    return ops.one_hot(class_ids, num_classes, dtype=dtype)


def dkd_loss(
    teacher_logits,
    student_logits,
    labels,
    temperature=4.0,
    target_weight=1.0,
    non_target_weight=8.0,
):
    """Decoupled knowledge distillation (Zhao et al., 2022, arXiv:2203.08679).

    KD split into the part about the target class and the part about the
    others, each with its own weight:

    ```
    p = softmax(logits / T),  g = the target class
    b = [p[g], 1 − p[g]]                          binary: target vs the rest
    q[c] = p[c] / (1 − p[g])  for c ≠ g           among the non-target classes
    TCKD = KL(b_t ‖ b_s),  NCKD = KL(q_t ‖ q_s)
    loss = T² · (target_weight · TCKD + non_target_weight · NCKD)
    ```

    Classic KD is `TCKD + (1 − p_t[g]) · NCKD`: a confident teacher suppresses
    NCKD, the "dark knowledge"; DKD weighs it by a constant (β = 8 in the
    paper's CIFAR-100 setting, α = 1). Computed from `log_softmax`, so it is
    finite for logits of ±1e3.

    Args:
        teacher_logits: Tensor `(batch, classes)`, the teacher's logits.
        student_logits: Tensor `(batch, classes)`, the student's logits.
        labels: The target classes: ids `(batch,)` or one-hot rows.
        temperature: Positive float `T`.
        target_weight: Weight α of TCKD.
        non_target_weight: Weight β of NCKD.

    Returns:
        Tensor `(batch,)`.
    """
    teacher_log_probs, student_log_probs = _softened_log_probs(
        teacher_logits, student_logits, temperature
    )
    if isinstance(labels, (np.ndarray, list)):
        # Concrete labels can be checked; a class id out of range would give
        # an all-zero mask and a silently wrong loss.
        check_class_labels(
            np.asarray(labels), student_log_probs.shape[-1], "labels", "logits"
        )
    mask = target_mask(labels, student_log_probs.shape[-1], student_log_probs.dtype)
    is_target = mask > 0

    def target_and_rest(log_probs):
        log_target = ops.sum(mask * log_probs, axis=-1)
        log_rest = ops.logsumexp(ops.where(is_target, -1e9, log_probs), axis=-1)
        return log_target, log_rest

    teacher_target, teacher_rest = target_and_rest(teacher_log_probs)
    student_target, student_rest = target_and_rest(student_log_probs)
    tckd = ops.exp(teacher_target) * (teacher_target - student_target) + ops.exp(
        teacher_rest
    ) * (teacher_rest - student_rest)
    # log q = log p − log(1 − p[g]) on the non-target classes.
    teacher_non_target = teacher_log_probs - teacher_rest[:, None]
    student_non_target = student_log_probs - student_rest[:, None]
    nckd = ops.sum(
        ops.where(
            is_target,
            0.0,
            ops.exp(teacher_non_target) * (teacher_non_target - student_non_target),
        ),
        axis=-1,
    )
    return (temperature**2) * (target_weight * tckd + non_target_weight * nckd)
