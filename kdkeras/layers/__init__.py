"""Keras layers of kdkeras."""

from kdkeras.layers.image_view import ImageView
