"""Ready-made classifiers that output logits, to use as teachers and students."""

from kdkeras.models.cnn import build_cnn, build_mlp

__all__ = ["build_cnn", "build_mlp"]
