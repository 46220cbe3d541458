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
  image.set_shape([size, size, 3])
  return (image / 255.0 - 0.5) / 0.5


# Transfer-Learning-Library's defaults for ImageNet-pretrained backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE = 256  # ResizeImage(256): both sides, not the shorter one


def random_resized_crop(image: tf.Tensor, seed: tf.Tensor, size: int,
                        scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> tf.Tensor:
  """torchvision's RandomResizedCrop: a crop of random area and aspect ratio, resized.

  After 10 failed draws TensorFlow falls back to the whole image, where
  torchvision takes a centre crop clamped to the ratio range.
  """
  begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.shape(image), bounding_boxes=tf.zeros([1, 0, 4]), seed=seed,
      min_object_covered=0.0, aspect_ratio_range=ratio, area_range=scale,
      max_attempts=10, use_image_if_no_bounding_boxes=True)
  crop = tf.slice(image, begin, crop_size)
  return tf.image.resize(crop, (size, size), method="bilinear", antialias=True)


@TRANSFORMS.register("imagenet_train")
def imagenet_train(image: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
  """Resize to 256x256, RandomResizedCrop(size), random flip, ImageNet mean/std."""
  image = to_rgb(image)
  image = tf.image.resize(image, (RESIZE, RESIZE), method="bilinear", antialias=True)
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
  image = random_resized_crop(image, seeds[0], size)
  image = tf.image.stateless_random_flip_left_right(image, seeds[1])
  return (image / 255.0 - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)


def _resize_and_centre_crop(image: tf.Tensor, size: int) -> tf.Tensor:
  image = tf.image.resize(to_rgb(image), (RESIZE, RESIZE), method="bilinear", antialias=True)
  offset = (RESIZE - size) // 2
  return image[offset:offset + size, offset:offset + size]


@TRANSFORMS.register("imagenet_eval")
def imagenet_eval(image: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
  """Resize to 256x256, centre crop `size`, ImageNet mean/std."""
  del seed
  image = _resize_and_centre_crop(image, size)
  return (image / 255.0 - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)


@TRANSFORMS.register("imagenet_center_train")
def imagenet_center_train(image: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
  """TLL's --train-resizing cen.crop (its VisDA-2017 recipes): resize to 256x256,
  centre crop `size`, random flip, ImageNet mean/std."""
  image = _resize_and_centre_crop(image, size)
  image = tf.image.stateless_random_flip_left_right(image, tf.cast(seed, tf.int64))
  return (image / 255.0 - tf.constant(IMAGENET_MEAN)) / tf.constant(IMAGENET_STD)


@TRANSFORMS.register("digits_train")
def digits_train(image: tf.Tensor, seed: tf.Tensor, size: int) -> tf.Tensor:
  """`digits` after a random crop of up to 2 pixels each way (padding by 2)."""
  image = tf.pad(to_rgb(image), [[2, 2], [2, 2], [0, 0]])
  shape = tf.shape(image)
  image = tf.image.stateless_random_crop(image, [shape[0] - 4, shape[1] - 4, 3],
                                         tf.cast(seed, tf.int64))
  return digits(image, seed, size)


def get_transform(name: str) -> Transform:
  return TRANSFORMS.get(name)
