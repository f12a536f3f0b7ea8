"""`AugmentationPlan`: how reproducible augmented views are drawn, as stored parameters.

A view of image `i` at epoch `e` is drawn from `[seed, e]` with NumPy as a few
numbers (shift, flip, mixup partner and weight, cutmix box), so it is the
same on every run, backend and machine; `kdkeras.augmentation.rendering` renders
the views from those parameters. The formulas are in that module's docstring.
"""

import json
import math

import numpy as np

from kdkeras.validation import check_positive_int

# The per-view parameters a plan draws, each of shape (epochs, num_samples[, 4]).
PARAMETER_NAMES = (
    "row_shift",
    "col_shift",
    "flip",
    "partner",
    "mixup_weight",
    "box",
    "label_weight",
)
# Their little-endian dtypes and the shape of one view's value (4 bytes a
# number: 40 bytes a view), as `draw` returns them and caches store them.
PARAMETER_LAYOUT = {
    "row_shift": ("<i4", ()),
    "col_shift": ("<i4", ()),
    "flip": ("<i4", ()),
    "partner": ("<i4", ()),
    "mixup_weight": ("<f4", ()),
    "box": ("<i4", (4,)),
    "label_weight": ("<f4", ()),
}


class AugmentationPlan:
    """How the augmented views of a data set are drawn, reproducibly.

    Args:
        shift: Largest shift, in pixels, up/down and left/right (zero fill).
        horizontal_flip: Whether half of the views are flipped left-right.
        mixup_alpha: `a` of mixup's `Beta(a, a)`; 0 turns mixup off.
        cutmix_alpha: `a` of cutmix's `Beta(a, a)`; 0 turns cutmix off. With
            both on, each mixed view uses one of them, at random.
        mix_probability: Fraction of views that are mixed (when mixup or
            cutmix is on).
        seed: The views of epoch `e` are drawn from `[seed, e]`.
    """

    def __init__(
        self,
        shift=2,
        horizontal_flip=True,
        mixup_alpha=0.0,
        cutmix_alpha=0.0,
        mix_probability=1.0,
        seed=0,
    ):
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)):
            raise TypeError(f"`shift` must be an int. Received: shift={shift!r}")
        if shift < 0:
            raise ValueError(f"`shift` must be >= 0. Received: shift={shift}")
        for name, value in (
            ("mixup_alpha", mixup_alpha),
            ("cutmix_alpha", cutmix_alpha),
        ):
            if not (
                isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
            ):
                raise ValueError(
                    f"`{name}` must be a finite number >= 0 (0 turns it off). "
                    f"Received: {name}={value!r}"
                )
        if not (
            isinstance(mix_probability, (int, float)) and 0 <= mix_probability <= 1
        ):
            raise ValueError(
                "`mix_probability` must be in [0, 1]. Received: "
                f"mix_probability={mix_probability!r}"
            )
        if (
            isinstance(seed, bool)
            or not isinstance(seed, (int, np.integer))
            or seed < 0
        ):
            raise ValueError(f"`seed` must be an int >= 0. Received: seed={seed!r}")
        self.shift = int(shift)
        self.horizontal_flip = bool(horizontal_flip)
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.mix_probability = float(mix_probability)
        self.seed = int(seed)

    def get_config(self):
        return {
            "shift": self.shift,
            "horizontal_flip": self.horizontal_flip,
            "mixup_alpha": self.mixup_alpha,
            "cutmix_alpha": self.cutmix_alpha,
            "mix_probability": self.mix_probability,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def to_json(self):
        return json.dumps(self.get_config(), sort_keys=True)

    def __eq__(self, other):
        return (
            isinstance(other, AugmentationPlan)
            and other.get_config() == self.get_config()
        )

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"AugmentationPlan({arguments})"

    @property
    def mixes(self):
        return self.mix_probability > 0 and (
            self.mixup_alpha > 0 or self.cutmix_alpha > 0
        )

    def draw(self, num_samples, image_size, epochs, first_epoch=0):
        """The parameters of every view, for `epochs` epochs.

        Args:
            num_samples: Number of images.
            image_size: `(height, width)` of the images.
            epochs: Number of epochs (views per image).
            first_epoch: The first epoch's index.

        Returns:
            A dict of NumPy arrays of shape `(epochs, num_samples)` (`box`:
            `(epochs, num_samples, 4)`), named as in `PARAMETER_NAMES`.
        """
        check_positive_int(num_samples, "num_samples")
        check_positive_int(epochs, "epochs")
        drawn = [
            self._draw_epoch(num_samples, image_size, first_epoch + epoch)
            for epoch in range(epochs)
        ]
        return {name: np.stack([d[name] for d in drawn]) for name in PARAMETER_NAMES}

    def _draw_epoch(self, num_samples, image_size, epoch):
        height, width = (int(size) for size in image_size)
        rng = np.random.default_rng([self.seed, epoch])
        row_shift, col_shift = rng.integers(
            -self.shift, self.shift + 1, size=(2, num_samples), dtype=np.int32
        )
        flip = rng.random(num_samples) < 0.5
        if not self.horizontal_flip:
            flip[:] = False
        partner = np.arange(num_samples, dtype=np.int32)
        mixup_weight = np.ones(num_samples, np.float32)
        box = np.zeros((num_samples, 4), np.int32)
        label_weight = np.ones(num_samples, np.float32)
        if self.mixes:
            mixed = rng.random(num_samples) < self.mix_probability
            partner = np.where(
                mixed, rng.integers(0, num_samples, num_samples), partner
            ).astype(np.int32)
            use_cutmix = self._choose_cutmix(rng, num_samples) & mixed
            use_mixup = mixed & ~use_cutmix
            if self.mixup_alpha > 0:
                weights = rng.beta(self.mixup_alpha, self.mixup_alpha, num_samples)
                mixup_weight[use_mixup] = weights[use_mixup]
                label_weight[use_mixup] = weights[use_mixup]
            if self.cutmix_alpha > 0:
                drawn_box = _cutmix_boxes(
                    rng, num_samples, height, width, self.cutmix_alpha
                )
                box[use_cutmix] = drawn_box[use_cutmix]
                top, left, bottom, right = box.T
                kept = 1.0 - (bottom - top) * (right - left) / (height * width)
                label_weight[use_cutmix] = kept[use_cutmix]
        return {
            "row_shift": row_shift,
            "col_shift": col_shift,
            "flip": flip.astype(np.int32),
            "partner": partner,
            "mixup_weight": mixup_weight,
            "box": box,
            "label_weight": label_weight,
        }

    def _choose_cutmix(self, rng, num_samples):
        if self.cutmix_alpha > 0 and self.mixup_alpha > 0:
            return rng.random(num_samples) < 0.5
        return np.full(num_samples, self.cutmix_alpha > 0)


def _cutmix_boxes(rng, num_samples, height, width, alpha):
    """`(top, left, bottom, right)` boxes covering `1 - Beta(a, a)` of the image."""
    area_kept = rng.beta(alpha, alpha, num_samples)
    ratio = np.sqrt(1.0 - area_kept)
    box_height, box_width = (ratio * height).astype(int), (ratio * width).astype(int)
    center_row = rng.integers(0, height, num_samples)
    center_col = rng.integers(0, width, num_samples)
    top = np.clip(center_row - box_height // 2, 0, height)
    bottom = np.clip(center_row + box_height // 2, 0, height)
    left = np.clip(center_col - box_width // 2, 0, width)
    right = np.clip(center_col + box_width // 2, 0, width)
    return np.stack([top, left, bottom, right], axis=1).astype(np.int32)


def checked_images(x, plan, epochs):
    """`x` as a NumPy array of images, checked with `plan` and `epochs`."""
    if not isinstance(plan, AugmentationPlan):
        raise TypeError(
            f"`plan` must be a `AugmentationPlan`. Received: {type(plan).__name__}"
        )
    check_positive_int(epochs, "epochs")
    images = np.asarray(x)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(
            "`x` must hold images of shape (N, height, width[, channels]), N > 0. "
            f"Received: x.shape={images.shape}"
        )
    return images
