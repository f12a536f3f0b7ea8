"""Replayable augmentation: images augmented from stored parameters, so the
same augmented image of image `i` at epoch `e` comes back on every run,
backend and machine (`AugmentationPlan`), rendered in a `tf.data` pipeline
(`augmented_dataset`). `kdkeras.caches` stores a teacher's logits of them."""

from kdkeras.augmentation.plan import (
    PARAMETER_LAYOUT,
    PARAMETER_NAMES,
    AugmentationPlan,
    checked_images,
)
from kdkeras.augmentation.rendering import (
    augmented_dataset,
    labelled_augmented_batch,
    labels_for_augmented,
    render_augmented,
)
