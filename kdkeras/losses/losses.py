"""Serializable `keras.losses.Loss` classes over the functions of `functional`.

Each class takes `y_true=teacher_logits` and `y_pred=student_logits` (for
`LabelCrossEntropy`, `y_true=labels`), so it also works in a plain
`model.compile(loss=...)` against stored teacher logits.
"""

import functools

import keras

from kdkeras.losses import correlation, functional
from kdkeras.losses.registry import register_distillation_loss
from kdkeras.validation import check_number


class DistillationLoss(keras.losses.Loss):
    """Base class of losses between teacher logits and student logits.

    Registered methods of kind `"logits"`. The Distiller calls them with
    logits. A loss with `uses_labels = True` gets
    `y_true=(teacher_logits, labels)`. A loss with `uses_temperature = True`
    takes the temperature at call time: `loss(y_true, y_pred, temperature=T)`
    reaches its `call(y_true, y_pred, temperature=T)`; without it (as in a
    plain `model.compile(loss=...)`) the loss's own `temperature` is used.
    The `Distiller`'s objective owns the temperature (a number or a schedule)
    and passes it at every step: the loss is neither copied nor changed.
    """

    kind = "logits"
    uses_temperature = False
    uses_labels = False

    def __call__(self, y_true, y_pred, sample_weight=None, temperature=None):
        """Keras' `Loss.__call__` (dtype, reduction, sample weights, scaling
        under `tf.distribute`), at `temperature` when given: a number or a
        scalar tensor (e.g. a schedule's value at this step)."""
        if temperature is None:
            return super().__call__(y_true, y_pred, sample_weight)
        if not self.uses_temperature:
            raise ValueError(
                f"{type(self).__name__} takes no temperature. "
                f"Received: temperature={temperature!r}"
            )
        at_temperature = FunctionLoss(
            functools.partial(self.call, temperature=temperature),
            reduction=self.reduction,
            name=self.name,
            dtype=self.dtype,
        )
        return at_temperature(y_true, y_pred, sample_weight)


class _TemperatureLoss(DistillationLoss):
    """A loss `loss_fn(teacher_logits, student_logits, temperature)`."""

    uses_temperature = True
    loss_fn = None
    default_name = None

    def __init__(
        self,
        temperature=1.0,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        functional.check_temperature(temperature)
        super().__init__(
            name=name or self.default_name, reduction=reduction, dtype=dtype
        )
        self.temperature = float(temperature)

    def call(self, y_true, y_pred, temperature=None):
        """Per-example values at `temperature` (the loss's own when `None`)."""
        temperature = self.temperature if temperature is None else temperature
        return type(self).loss_fn(y_true, y_pred, temperature=temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@register_distillation_loss("kd")
class KDLoss(_TemperatureLoss):
    """Hinton KD: `T² · KL(softmax(t / T) ‖ softmax(s / T))`.

    See `kdkeras.losses.kd_loss` for the formula (Hinton et al., 2015,
    arXiv:1503.02531).

    Args:
        temperature: Positive float `T` when used outside a `Distiller` (whose
            `compile(temperature=...)` is passed at call time instead).
        reduction: Keras reduction of the per-sample values.
        name: Optional name.
        dtype: Optional dtype of the computation.
    """

    loss_fn = staticmethod(functional.kd_loss)
    default_name = "kd_loss"


@register_distillation_loss("kd_standardized")
class StandardizedKDLoss(_TemperatureLoss):
    """KD on z-scored logits (Sun et al., 2024, arXiv:2403.01427).

    `T² · KL(softmax(Z(t) / T) ‖ softmax(Z(s) / T))` with
    `Z(z) = (z − mean(z)) / std(z)`; see `kdkeras.losses.standardized_kd_loss`.

    Args:
        temperature: Positive float `T` (the paper's base temperature: 2).
        reduction: Keras reduction of the per-sample values.
        name: Optional name.
        dtype: Optional dtype of the computation.
    """

    loss_fn = staticmethod(functional.standardized_kd_loss)
    default_name = "standardized_kd_loss"


@register_distillation_loss("soft_target_cross_entropy")
class SoftTargetCrossEntropy(_TemperatureLoss):
    """`−T² · Σ softmax(t / T) · log_softmax(s / T)` (Hinton et al., 2015).

    See `kdkeras.losses.soft_target_cross_entropy`.
    """

    loss_fn = staticmethod(functional.soft_target_cross_entropy)
    default_name = "soft_target_cross_entropy"


@register_distillation_loss("dkd")
class DKDLoss(_TemperatureLoss):
    """Decoupled KD: `T² · (α · TCKD + β · NCKD)` (Zhao et al., 2022).

    See `kdkeras.losses.dkd_loss` for the formula (arXiv:2203.08679). It needs
    the labels: called with `y_true=(teacher_logits, labels)`.

    Args:
        temperature: Positive float `T` (the paper uses 4).
        target_weight: Weight α of the target-class term TCKD (paper: 1).
        non_target_weight: Weight β of the non-target term NCKD (paper: 8 on
            CIFAR-100).
        reduction: Keras reduction of the per-sample values.
        name: Optional name.
        dtype: Optional dtype of the computation.
    """

    uses_labels = True
    default_name = "dkd_loss"

    def __init__(
        self,
        temperature=4.0,
        target_weight=1.0,
        non_target_weight=8.0,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(
            temperature=temperature, reduction=reduction, name=name, dtype=dtype
        )
        target_weight = check_number(target_weight, "target_weight", low=0)
        non_target_weight = check_number(non_target_weight, "non_target_weight", low=0)
        self.target_weight = float(target_weight)
        self.non_target_weight = float(non_target_weight)

    def call(self, y_true, y_pred, temperature=None):
        teacher_logits, labels = y_true
        return functional.dkd_loss(
            teacher_logits,
            y_pred,
            labels,
            temperature=self.temperature if temperature is None else temperature,
            target_weight=self.target_weight,
            non_target_weight=self.non_target_weight,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "target_weight": self.target_weight,
            "non_target_weight": self.non_target_weight,
        }


@register_distillation_loss("dist")
class DISTLoss(_TemperatureLoss):
    """DIST: `T² · (β · (1 − ρ_inter) + γ · (1 − ρ_intra))` (Huang et al., 2022).

    Pearson correlations of the softened probabilities across the classes of
    each sample (inter) and across the batch for each class (intra); see
    `kdkeras.losses.dist_loss` for the formula (arXiv:2205.10536). The intra
    term is a statistic of the batch, added to every sample's value, so sample
    weights only weight the inter term.

    Args:
        temperature: Positive float `T` when used outside a `Distiller` (whose
            `compile(temperature=...)` is passed at call time instead). The
            paper's reference code uses 1 on ImageNet, 4 on CIFAR-100.
        inter_weight: Weight β of the inter-class term (paper: 1).
        intra_weight: Weight γ of the intra-class term (paper: 1).
        reduction: Keras reduction of the per-sample values.
        name: Optional name.
        dtype: Optional dtype of the computation.
    """

    default_name = "dist_loss"

    def __init__(
        self,
        temperature=1.0,
        inter_weight=1.0,
        intra_weight=1.0,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(
            temperature=temperature, reduction=reduction, name=name, dtype=dtype
        )
        inter_weight = check_number(inter_weight, "inter_weight", low=0)
        intra_weight = check_number(intra_weight, "intra_weight", low=0)
        self.inter_weight = float(inter_weight)
        self.intra_weight = float(intra_weight)

    def call(self, y_true, y_pred, temperature=None):
        return correlation.dist_loss(
            y_true,
            y_pred,
            temperature=self.temperature if temperature is None else temperature,
            inter_weight=self.inter_weight,
            intra_weight=self.intra_weight,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "inter_weight": self.inter_weight,
            "intra_weight": self.intra_weight,
        }


@register_distillation_loss("logit_mse")
class LogitMSE(DistillationLoss):
    """`mean((s − t)²)` on logits (Ba & Caruana, 2014, arXiv:1312.6184).

    See `kdkeras.losses.logit_mse`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="logit_mse", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return functional.logit_mse(y_true, y_pred)


@register_distillation_loss("hard_pseudo_label")
class HardPseudoLabelCrossEntropy(DistillationLoss):
    """Cross-entropy against `argmax(teacher_logits)` (Lee, 2013).

    See `kdkeras.losses.hard_pseudo_label_cross_entropy`.
    """

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="hard_pseudo_label_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return functional.hard_pseudo_label_cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="kdkeras")
class LabelCrossEntropy(keras.losses.Loss):
    """Cross-entropy of student logits against sparse or one-hot labels.

    The Distiller's default `student_loss_fn`: it reads integer labels as class
    ids and `(batch, classes)` labels as distributions, so the same Distiller
    trains on either. See `kdkeras.losses.label_cross_entropy`.
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="label_cross_entropy", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return functional.label_cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="kdkeras")
class FunctionLoss(keras.losses.Loss):
    """A `keras.losses.Loss` over a plain function `fn(y_true, y_pred)`.

    Lets `Distiller.compile` take any callable as a loss, with Keras'
    reduction, sample weights and scaling under `tf.distribute`.

    Args:
        fn: A function returning one loss value per example. It is saved by
            name, so it must be a Keras loss function or registered with
            `keras.saving.register_keras_serializable`.
        reduction: Keras reduction of the per-example values.
        name: The loss's name; defaults to the function's.
        dtype: The dtype of the loss computation.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None):
        if not callable(fn):
            raise TypeError(f"`fn` must be callable. Received: fn={fn!r}")
        super().__init__(
            name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype
        )
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        return {
            **super().get_config(),
            "fn": keras.saving.serialize_keras_object(self.fn),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["fn"] = keras.saving.deserialize_keras_object(config["fn"])
        return cls(**config)
