"""A run's eval transform as plain TensorFlow ops an exported graph can carry.

`preprocess` takes uint8 RGB images of any size and gives what the run's eval
transform (tldomain/data/transforms.py) gives: the same resize and
normalisation. The antialiased bilinear resize (tf.image.resize's
ScaleAndTranslate, which TFLite lacks) is written as two matrix products whose
weights are computed in the graph from the input size, with the kernel
ScaleAndTranslate uses: a triangle widened by the downscaling factor,
normalised per output pixel. Every op is a TFLite builtin, so the float and
int8 TFLite files take images of any size too.
"""

import numpy as np
import tensorflow as tf

from tldomain.data import transforms


def resize_weights(in_size: tf.Tensor, out_size: int) -> tf.Tensor:
  """(out_size, in_size) float32 weights of tf.image.resize(bilinear, antialias=True).

  Output pixel o samples the input at c = (o + 0.5) in / out; source pixel i gets
  the triangle max(0, 1 - |i + 0.5 - c| / k), k = max(in / out, 1), normalised
  over i. Multiplied by 2 max(in, out) that is the integer
  max(0, 2 max(in, out) - |(2i + 1) out - (2o + 1) in|): computed in int32, it
  stays exact in an int8-quantised graph, which quantises float arithmetic.
  """
  in_size = tf.cast(in_size, tf.int32)
  sources = 2 * tf.range(in_size) + 1
  centres = (2 * tf.range(out_size) + 1) * in_size
  distance = tf.abs(sources[None, :] * out_size - centres[:, None])
  weights = tf.nn.relu(2 * tf.maximum(in_size, out_size) - distance)
  weights = tf.cast(weights, tf.float32)
  return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def resize(images: tf.Tensor, size: int) -> tf.Tensor:
  """float32 (N, H, W, C) -> (N, size, size, C), as tf.image.resize(antialias=True)."""
  shape = tf.shape(images)
  rows, cols = resize_weights(shape[1], size), resize_weights(shape[2], size)
  out = tf.einsum("oh,nhwc->nowc", rows, images)
  return tf.einsum("pw,nowc->nopc", cols, out)


def _digits(images: tf.Tensor, size: int) -> tf.Tensor:
  return (resize(tf.cast(images, tf.float32), size) / 255.0 - 0.5) / 0.5


def _round_half_even(numerator: tf.Tensor, denominator: int) -> tf.Tensor:
  """numerator / denominator rounded as tf.round does (half to even), in integers."""
  quotient, twice_rest = numerator // denominator, 2 * (numerator % denominator)
  up = (twice_rest > denominator) | ((twice_rest == denominator) & (quotient % 2 == 1))
  return quotient + tf.cast(up, tf.int32)


def frame_window(height_width: tf.Tensor, box: tf.Tensor, frame: int) -> tf.Tensor:
  """transforms.frame_window in integer arithmetic (same result, exact when quantised)."""
  height_width = tf.cast(height_width, tf.int32)
  start = _round_half_even(box[:2] * height_width, frame)
  end = _round_half_even((box[:2] + box[2:]) * height_width, frame)
  return tf.concat([start, tf.maximum(end - start, 1)], 0)


def _imagenet_eval(images: tf.Tensor, size: int) -> tf.Tensor:
  # The centre `size` box of the 256x256 frame, mapped back to the image and
  # resized once (transforms.imagenet_eval).
  offset = (transforms.RESIZE - size) // 2
  box = tf.constant([offset, offset, size, size])
  window = frame_window(tf.shape(images)[1:3], box, transforms.RESIZE)
  crop = tf.slice(images, tf.concat([[0], window[:2], [0]], 0),
                  tf.concat([[-1], window[2:], [-1]], 0))
  resized = resize(tf.cast(crop, tf.float32), size)
  std = np.asarray(transforms.IMAGENET_STD, np.float32)
  mean = np.asarray(transforms.IMAGENET_MEAN, np.float32)
  return resized * (1.0 / (255.0 * std)) - mean / std


def _lite_eval(images: tf.Tensor, size: int) -> tf.Tensor:
  # transforms.lite_eval's centred square, its side size / (size + 32) of the
  # shorter side, in integers: (size * shorter) // (size + 32) is the float
  # product truncated (exactly so at 224, where the ratio is 7/8).
  height_width = tf.shape(images)[1:3]
  side = tf.maximum(size * tf.reduce_min(height_width) // (size + transforms.LITE_CROP_PADDING), 1)
  offset = (height_width - side + 1) // 2
  crop = tf.slice(images, tf.concat([[0], offset, [0]], 0), tf.stack([-1, side, side, -1]))
  resized = resize(tf.cast(crop, tf.float32), size)
  return resized * (1.0 / transforms.LITE_STD) - transforms.LITE_MEAN / transforms.LITE_STD


# Eval transform name -> its serving version, uint8 (N, H, W, 3) -> float32 (N, size, size, 3).
PREPROCESS = {"digits": _digits, "imagenet_eval": _imagenet_eval, "lite_eval": _lite_eval}


def check_transform(name: str) -> None:
  if name not in PREPROCESS:
    raise ValueError(f"data.eval_transform {name!r} has no serving version in "
                     f"tldomain/serving.py (it has {', '.join(sorted(PREPROCESS))}); add one "
                     "there to export this run.")


def preprocess(images: tf.Tensor, transform: str, size: int) -> tf.Tensor:
  """uint8 RGB (N, H, W, 3) of any size -> the run's model input, float32 (N, size, size, 3)."""
  check_transform(transform)
  out = PREPROCESS[transform](images, size)
  # The crops slice a dynamic window, which loses the static batch size a
  # TFLite signature (batch 1) needs: the input's is restored, statically only
  # (an EnsureShape op that checks at run time is not a TFLite builtin).
  out.set_shape([images.shape[0], size, size, 3])
  return out
