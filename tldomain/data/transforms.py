"""Image transforms by name, as tf.data functions.

A transform maps a decoded uint8 image (H, W, C) and a per-example stateless
seed (shape [2], derived from the run seed and the example's position in the
stream) to a float32 (size, size, 3) image. Random ops must use that seed, so
that a resumed run sees exactly the images an uninterrupted run would have.
"""

from typing import Callable

import tensorflow as tf

from tldomain.registry import Registry

Transform = Callable[[tf.Tensor, tf.Tensor, int], tf.Tensor]
TRANSFORMS: Registry[Transform] = Registry("transform")


def to_rgb(image: tf.Tensor) -> tf.Tensor:
  return tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image


@TRANSFORMS.register("digits")
def digits(image: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
  """Resize to `size` if needed, grey to three channels, normalise by 0.5/0.5."""
  del seed
  image = tf.cast(to_rgb(image), tf.float32)
  if image.shape[0] != size or image.shape[1] != size:
    image = tf.image.resize(image, (size, size), antialias=True)
  return (image / 255.0 - 0.5) / 0.5


def get_transform(name: str) -> Transform:
  return TRANSFORMS.get(name)
