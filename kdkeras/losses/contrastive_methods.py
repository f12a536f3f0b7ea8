"""CRD, contrastive representation distillation, as a feature method.

Registered beside `Hint`, `RelationalKD` and `ProbabilisticKT` with kind
`"features"` (`kdkeras.losses.get("crd", teacher_layer=..., student_layer=...,
num_examples=...)`), for `kdkeras.Distiller(features=[...])`. Its loss
functions are those of `kdkeras.losses.contrastive_losses`.

Unlike the other feature methods, CRD keeps state per training example (two
memory banks) and so needs each example's index in the training set: it
says so with `needs_example_index = True`, and the `Distiller` passes the
indices (see `kdkeras.distillation.example_index`).
"""

import math

import keras
from keras import ops

from kdkeras import compat
from kdkeras.losses import contrastive_losses
from kdkeras.losses.feature_methods import FeatureDistillation
from kdkeras.losses.registry import register_distillation_loss


def _check_int(argument, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"`{argument}` must be an integer ≥ {minimum}. "
            f"Received: {argument}={value!r}"
        )
    if value < minimum:
        raise ValueError(
            f"`{argument}` must be ≥ {minimum}. Received: {argument}={value}"
        )


def _check_number(argument, value, inside, interval):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"`{argument}` must be a number. Received: {argument}={value!r}"
        )
    if not inside(value):
        raise ValueError(
            f"`{argument}` must be in {interval}. Received: {argument}={value}"
        )


@register_distillation_loss("crd")
class ContrastiveRepresentation(FeatureDistillation):
    """CRD: contrastive representation distillation with memory banks.

    ```
    v_s = normalize(W_s · flatten(s)),   v_t = normalize(W_t · flatten(t))
    loss_i = weight · (nce(v_s, M_t) + nce(v_t, M_s))
    nce(v, M) = −log h(M[i]·v) − Σ_{K negatives j} log(1 − h(M[j]·v))
    h(x) = P / (P + K/N),   P = exp(x / τ) / Z
    ```

    Each example's student embedding learns to pick out the teacher's
    embedding of the same example among `K` other examples, and the other
    way round (Tian, Krishnan & Isola, 2020, "Contrastive Representation
    Distillation", ICLR, arXiv:1910.10699); see
    `kdkeras.losses.contrastive_losses`. Registered as `"crd"`.

    The layer owns two embedding heads (`Dense(embedding_dim)`, then L2
    normalisation), which train with the student, and two memory banks
    `M_t`, `M_s` of shape `(num_examples, embedding_dim)` (non-trainable
    float32 variables: saved with the Distiller's weights and restored by
    `keras.callbacks.BackupAndRestore`; not part of `distiller.student`).
    The banks start uniform in `[−sqrt(3/d), sqrt(3/d)]` and, at each
    training step, after the loss, the rows of the batch's examples move to
    `normalize(momentum · M[i] + (1 − momentum) · v_i)`. `Z = N · mean(exp(x
    / τ))` is estimated once, from the first training batch, for each
    direction, and then kept (as in the reference code); it is saved too.
    Negatives are drawn uniformly from the other rows of the bank, new ones
    at each step; the reference draws from all rows. Calling `loss` updates
    the banks: the Distiller calls it once per training step, never in
    evaluation. Under a `tf.distribute` strategy every replica's rows are
    updated (the banks' change is averaged across replicas at each step,
    `2 · num_examples · embedding_dim` floats).

    It needs each training example's index, an integer in
    `[0, num_examples)`: `Distiller.fit` adds them to NumPy inputs; wrap a
    `tf.data.Dataset` with `kdkeras.distillation.with_example_index` before
    shuffling and batching. It needs the teacher's features, so a teacher
    model (not stored logits).

    The banks hold `2 · num_examples · embedding_dim` floats (2 × 50,000 ×
    128 floats, 51 MB, for CIFAR-100), and each step computes the
    `batch × num_examples` scores of each direction. The usual layers are
    the teacher's and the student's penultimate layers (their embeddings;
    the reference code uses the features before the classifier).

    Args:
        teacher_layer: The name of the teacher's layer, e.g. its penultimate.
        student_layer: The name of the student's layer, e.g. its penultimate.
        num_examples: `N`, the number of training examples (the banks' rows):
            at least the largest example index + 1.
        weight: The weight of the loss (0.8: RepDistiller's `-b 0.8`).
        embedding_dim: The heads' width `d` (128, `--feat_dim`).
        num_negatives: `K`, negatives per example; `None`:
            `min(16384, num_examples − 1)` (16384 is `--nce_k`, the paper's;
            a bank smaller than 16385 rows has fewer others to draw).
        temperature: τ (0.07, `--nce_t`).
        momentum: The banks' momentum (0.5, `--nce_m`).
        seed: Seed of the negatives' draws and the banks' initialisation.
        name: The layer's name.
    """

    needs_example_index = True
    """The Distiller passes `example_index` to `loss` (see above)."""

    def __init__(
        self,
        teacher_layer,
        student_layer,
        num_examples,
        weight=contrastive_losses.PAPER_WEIGHT,
        embedding_dim=contrastive_losses.PAPER_EMBEDDING_DIM,
        num_negatives=None,
        temperature=contrastive_losses.PAPER_TEMPERATURE,
        momentum=contrastive_losses.PAPER_MOMENTUM,
        seed=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            teacher_layer, student_layer, weight=weight, name=name, **kwargs
        )
        _check_int("num_examples", num_examples, 2)
        _check_int("embedding_dim", embedding_dim, 1)
        if num_negatives is not None:
            _check_int("num_negatives", num_negatives, 1)
            if num_negatives > num_examples - 1:
                raise ValueError(
                    "`num_negatives` must be at most `num_examples − 1` (the "
                    "other examples of the bank). Received: num_negatives="
                    f"{num_negatives}, num_examples={num_examples}"
                )
        _check_number("temperature", temperature, lambda t: 0 < t < math.inf, "(0, ∞)")
        _check_number("momentum", momentum, lambda m: 0 <= m < 1, "[0, 1)")
        if seed is not None:
            _check_int("seed", seed, 0)
        self.num_examples = num_examples
        self.embedding_dim = embedding_dim
        self.num_negatives = num_negatives
        self.temperature = float(temperature)
        self.momentum = float(momentum)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed, name="negatives")

    @property
    def negatives(self):
        """`K`: `num_negatives`, or its default for this bank."""
        if self.num_negatives is not None:
            return self.num_negatives
        return min(contrastive_losses.PAPER_NEGATIVES, self.num_examples - 1)

    def build(self, shapes):
        teacher_shape, student_shape = (tuple(shape) for shape in shapes)
        units = []
        for shape in (teacher_shape, student_shape):
            if len(shape) < 2 or any(dim is None for dim in shape[1:]):
                raise ValueError(
                    "`ContrastiveRepresentation` embeds flattened features "
                    "(batch, units) or (batch, ..., channels) of known size. "
                    f"Received: teacher layer {self.teacher_layer!r} of shape "
                    f"{teacher_shape}, student layer {self.student_layer!r} of "
                    f"shape {student_shape}"
                )
            units.append(math.prod(shape[1:]))
        self.teacher_head = keras.layers.Dense(self.embedding_dim, name="teacher_head")
        self.teacher_head.build((None, units[0]))
        self.student_head = keras.layers.Dense(self.embedding_dim, name="student_head")
        self.student_head.build((None, units[1]))
        limit = contrastive_losses.bank_init_limit(self.embedding_dim)
        seeds = (None, None) if self.seed is None else (self.seed, self.seed + 1)
        for model, seed in zip(("teacher", "student"), seeds, strict=True):
            bank = self.add_weight(
                shape=(self.num_examples, self.embedding_dim),
                initializer=keras.initializers.RandomUniform(-limit, limit, seed=seed),
                dtype="float32",
                trainable=False,
                # Under tf.distribute each replica assigns `bank + replicas ·
                # change of its rows`; their mean adds up every replica's rows.
                aggregation="mean",
                name=f"{model}_bank",
            )
            setattr(self, f"{model}_bank", bank)
        # log Z of (student anchor vs teacher bank, teacher anchor vs student
        # bank), set at the first training batch (`normalizers_set` 0 → 1).
        self.log_normalizers = self.add_weight(
            shape=(2,),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            aggregation="only_first_replica",
            name="log_normalizers",
        )
        self.normalizers_set = self.add_weight(
            shape=(),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            aggregation="only_first_replica",
            name="normalizers_set",
        )
        self.built = True

    def embed(self, teacher_features, student_features):
        """`(v_t, v_s)`: both heads' L2-normalised float32 embeddings."""
        embeddings = []
        for head, features in (
            (self.teacher_head, teacher_features),
            (self.student_head, student_features),
        ):
            features = ops.convert_to_tensor(features)
            flat = ops.reshape(features, (ops.shape(features)[0], -1))
            embeddings.append(
                contrastive_losses.l2_normalize(ops.cast(head(flat), "float32"))
            )
        return tuple(embeddings)

    def loss(self, teacher_features, student_features, example_index=None):
        """Per-example CRD loss (before `weight`); updates the banks.

        Args:
            teacher_features: The teacher layer's output (no gradient).
            student_features: The student layer's output.
            example_index: `(batch,)` the examples' indices in
                `[0, num_examples)`.

        Returns:
            `(batch,)`: `nce(v_s, M_t) + nce(v_t, M_s)` of each example.
        """
        if example_index is None:
            raise ValueError(
                f"`ContrastiveRepresentation` ({self.name!r}) needs each "
                "example's index in the training set (`example_index`). "
                "Received: example_index=None"
            )
        index = ops.cast(ops.reshape(example_index, (-1,)), "int32")
        teacher, student = self.embed(teacher_features, student_features)
        negatives = contrastive_losses.sample_negatives(
            index, self.num_examples, self.negatives, seed=self._seed_generator
        )
        logits = [
            contrastive_losses.contrastive_logits(
                anchor, bank, index, negatives, self.temperature
            )
            for anchor, bank in (
                (student, self.teacher_bank),
                (teacher, self.student_bank),
            )
        ]
        stored = ops.convert_to_tensor(self.log_normalizers)
        # Estimated at the first training batch only (`normalizers_set` 0),
        # then kept: the other steps skip the logsumexp of both directions.
        log_normalizers = ops.cond(
            ops.convert_to_tensor(self.normalizers_set) > 0,
            lambda: stored,
            lambda: ops.stack(
                [
                    contrastive_losses.log_normalizer(value, self.num_examples)
                    for value in logits
                ]
            ),
        )
        loss = contrastive_losses.nce_loss(
            logits[0], log_normalizers[0], self.num_examples
        ) + contrastive_losses.nce_loss(
            logits[1], log_normalizers[1], self.num_examples
        )
        self.log_normalizers.assign(log_normalizers)
        self.normalizers_set.assign(1.0)
        for bank, embeddings in (
            (self.teacher_bank, teacher),
            (self.student_bank, student),
        ):
            current = ops.convert_to_tensor(bank)
            updated = contrastive_losses.update_bank(
                current, embeddings, index, self.momentum
            )
            # The change is 0 outside the batch's rows (see `aggregation`).
            bank.assign(
                current + compat.unscale_loss_for_distribution(updated - current)
            )
        return loss

    def get_config(self):
        return {
            **super().get_config(),
            "num_examples": self.num_examples,
            "embedding_dim": self.embedding_dim,
            "num_negatives": self.num_negatives,
            "temperature": self.temperature,
            "momentum": self.momentum,
            "seed": self.seed,
        }
