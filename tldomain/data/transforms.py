"""Image transforms by name, as tf.data functions.

A transform maps an image and a per-example stateless seed (shape [2], derived
from the run seed and the example's position in the stream) to a float32
(size, size, 3) image. Random ops must use that seed, so that a resumed run
sees exactly the images an uninterrupted run would have.

The image is a decoded uint8 (H, W, C) tensor, or, for transforms marked
`reads_encoded` when the split is held encoded, an `EncodedImage`: such a
transform decodes only what it uses (`crop` decodes just a JPEG's crop window).
`decode` turns either into a tensor.
"""

from typing import Callable, NamedTuple

import numpy as np
import tensorflow as tf

from tldomain.registry import Registry


class EncodedImage(NamedTuple):
  """An image still in its file format (JPEG, PNG, ...): a scalar string tensor."""
  contents: tf.Tensor
  channels: int


Image = tf.Tensor | EncodedImage
Transform = Callable[[Image, tf.Tensor, int], tf.Tensor]
TRANSFORMS: Registry[Transform] = Registry("transform")


def reads_encoded(transform: Transform) -> Transform:
  """Marks `transform` as taking `EncodedImage`s as well as decoded tensors."""
  transform.reads_encoded = True
  return transform


def decode(image: Image) -> tf.Tensor:
  """The whole image as a uint8 (H, W, C) tensor."""
  if not isinstance(image, EncodedImage):
    return image
  decoded = tf.io.decode_image(image.contents, channels=image.channels, expand_animations=False)
  decoded.set_shape([None, None, image.channels])
  return decoded


def crop(image: Image, window: Callable[[tf.Tensor], tf.Tensor]) -> tf.Tensor:
  """The uint8 pixels of `window(height_width)` = [top, left, height, width].

  A JPEG is decoded only over the window (tf.io.decode_and_crop_jpeg), widened
  by a column each side: libjpeg's chroma upsampling replicates the decoded
  region's edge columns, so without them those columns would differ by a few
  levels from a whole decode. With them the pixels are those of decoding the
  whole image and slicing. Other formats are decoded whole.
  """
  if not isinstance(image, EncodedImage):
    box = window(tf.shape(image)[:2])
    return tf.slice(image, tf.concat([box[:2], [0]], 0), tf.concat([box[2:], [-1]], 0))

  def jpeg():
    shape = tf.image.extract_jpeg_shape(image.contents)
    top, left, height, width = tf.unstack(window(shape[:2]))
    start, end = tf.maximum(left - 1, 0), tf.minimum(left + width + 1, shape[1])
    wide = tf.io.decode_and_crop_jpeg(image.contents, tf.stack([top, start, height, end - start]),
                                      channels=image.channels)
    return wide[:, left - start:left - start + width]

  out = tf.cond(tf.io.is_jpeg(image.contents), jpeg, lambda: crop(decode(image), window))
  out.set_shape([None, None, image.channels])
  return out


def to_rgb(image: tf.Tensor) -> tf.Tensor:
  return tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image


@TRANSFORMS.register("digits")
def digits(image: Image, seed: tf.Tensor, size: int) -> tf.Tensor:
  """Resize to `size` if needed, grey to three channels, normalise by 0.5/0.5."""
  del seed
  image = tf.cast(to_rgb(decode(image)), tf.float32)
  if image.shape[0] != size or image.shape[1] != size:
    image = tf.image.resize(image, (size, size), antialias=True)
  image.set_shape([size, size, 3])
  return (image / 255.0 - 0.5) / 0.5


# Transfer-Learning-Library's defaults for ImageNet-pretrained backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESIZE = 256  # ResizeImage(256): both sides, not the shorter one


def frame_window(height_width: tf.Tensor, box: tf.Tensor, frame: int) -> tf.Tensor:
  """`box` = [top, left, height, width] in a (frame, frame) resize of an image of
  `height_width`, as the same region of the image itself, rounded to whole pixels
  (at least one)."""
  scale = tf.cast(height_width, tf.float32) / frame
  start = tf.cast(tf.round(tf.cast(box[:2], tf.float32) * scale), tf.int32)
  end = tf.cast(tf.round(tf.cast(box[:2] + box[2:], tf.float32) * scale), tf.int32)
  return tf.concat([start, tf.maximum(end - start, 1)], 0)


def random_resized_crop_window(height_width: tf.Tensor, seed: tf.Tensor, frame: int | None = None,
                               scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> tf.Tensor:
  """torchvision's RandomResizedCrop box, [top, left, height, width].

  The box has a random area in `scale` and aspect ratio (width / height) in
  `ratio`, measured in the image itself or, with `frame`, in the image resized to
  (frame, frame), and is returned in the image's own pixels (`frame_window`).
  After 10 failed draws TensorFlow falls back to the whole image, where
  torchvision takes a centre crop clamped to the ratio range.
  """
  shape = tf.stack([frame, frame]) if frame else height_width
  begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
      tf.concat([shape, [1]], 0), bounding_boxes=tf.zeros([1, 0, 4]), seed=seed,
      min_object_covered=0.0, aspect_ratio_range=ratio, area_range=scale,
      max_attempts=10, use_image_if_no_bounding_boxes=True)
  box = tf.concat([begin[:2], size[:2]], 0)
  return frame_window(height_width, box, frame) if frame else box


def resize(image: tf.Tensor, size: int) -> tf.Tensor:
  """Bilinear (triangle filter, widened when shrinking: antialiased, like PIL's) to
  float32 (size, size, C)."""
  return tf.image.resize(image, (size, size), method="bilinear", antialias=True)


def random_resized_crop(image: Image, seed: tf.Tensor, size: int, frame: int | None = None,
                        scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> tf.Tensor:
  """torchvision's RandomResizedCrop: a crop of random area and aspect ratio
  (`random_resized_crop_window`), resized to float32 (size, size)."""
  window = lambda hw: random_resized_crop_window(hw, seed, frame, scale, ratio)
  return resize(crop(image, window), size)


def imagenet_normalize(image: tf.Tensor) -> tf.Tensor:
  """(image / 255 - mean) / std as one multiply-add.

  The per-channel factors are spelled out to the image's full (static) shape:
  TensorFlow's CPU kernels broadcast a [3] vector over an image several times
  slower than they multiply two arrays of the same shape.
  """
  std = np.asarray(IMAGENET_STD, np.float32)
  scale, offset = 1.0 / (255.0 * std), -np.asarray(IMAGENET_MEAN, np.float32) / std
  if image.shape.is_fully_defined():
    scale, offset = (np.broadcast_to(v, image.shape).astype(np.float32) for v in (scale, offset))
  return image * scale + offset


@TRANSFORMS.register("imagenet_train")
@reads_encoded
def imagenet_train(image: Image, seed: tf.Tensor, size: int) -> tf.Tensor:
  """Resize to 256x256, RandomResizedCrop(size), random flip, ImageNet mean/std.

  Computed with one resampling: the crop box is drawn in the 256x256 frame, as
  torchvision draws it after `Resize((256, 256))`, mapped back to the original
  image, and that region alone is decoded (for JPEGs) and resized to `size`. The
  boxes follow torchvision's distribution exactly; the pixels differ from
  resize-then-crop-then-resize only by the resampling: one antialiased bilinear
  resize from the original pixels instead of two in a row (so no detail is lost
  to the intermediate 256x256 image), and box edges rounded to original pixels.
  """
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
  image = random_resized_crop(image, seeds[0], size, frame=RESIZE)
  image = tf.image.stateless_random_flip_left_right(image, seeds[1])
  return imagenet_normalize(to_rgb(image))


def _resize_and_centre_crop(image: Image, size: int) -> tf.Tensor:
  """The centre `size` box of the 256x256 frame, mapped back to the image, cropped
  and resized to float32 (size, size): one resampling, as in `imagenet_train`."""
  offset = (RESIZE - size) // 2
  box = tf.constant([offset, offset, size, size])
  return resize(crop(image, lambda hw: frame_window(hw, box, RESIZE)), size)


@TRANSFORMS.register("imagenet_eval")
@reads_encoded
def imagenet_eval(image: Image, seed: tf.Tensor, size: int) -> tf.Tensor:
  """Resize to 256x256, centre crop `size`, ImageNet mean/std.

  Like `imagenet_train`, one resampling: the centre box of the 256x256 frame is
  mapped back to the image, cropped and resized to `size`.
  """
  del seed
  return imagenet_normalize(to_rgb(_resize_and_centre_crop(image, size)))


@TRANSFORMS.register("imagenet_center_train")
@reads_encoded
def imagenet_center_train(image: Image, seed: tf.Tensor, size: int) -> tf.Tensor:
  """TLL's --train-resizing cen.crop (its VisDA-2017 recipes): resize to 256x256,
  centre crop `size`, random flip, ImageNet mean/std; one resampling, as in
  `imagenet_eval`."""
  image = _resize_and_centre_crop(image, size)
  image = tf.image.stateless_random_flip_left_right(image, tf.cast(seed, tf.int64))
  return imagenet_normalize(to_rgb(image))


# EfficientNet-Lite's ImageNet preprocessing (TF's efficientnet/lite/
# efficientnet_lite_builder.py: MEAN_RGB = [127.0] * 3, STDDEV_RGB = [128.0] * 3,
# "inception-style" for post-quantisation; and efficientnet/preprocessing.py:
# CROP_PADDING = 32). The efficientnet-lite-pytorch weights are converted from
# those TF checkpoints, so they take the same input.
LITE_MEAN, LITE_STD = 127.0, 128.0
LITE_CROP_PADDING = 32


def lite_normalize(image: tf.Tensor) -> tf.Tensor:
  """(pixel - 127) / 128: pixels in [0, 255] to about [-1, 1]."""
  return (image - LITE_MEAN) * (1.0 / LITE_STD)


def lite_centre_window(height_width: tf.Tensor, size: int) -> tf.Tensor:
  """TF EfficientNet's eval crop: the centred square of side size / (size + 32)
  of the shorter side (224 of 256 at Lite0's resolution)."""
  hw = tf.cast(height_width, tf.float32)
  side = tf.cast(size / (size + LITE_CROP_PADDING) * tf.reduce_min(hw), tf.int32)
  side = tf.maximum(side, 1)
  offset = (tf.cast(height_width, tf.int32) - side + 1) // 2
  return tf.concat([offset, [side, side]], 0)


@TRANSFORMS.register("lite_eval")
@reads_encoded
def lite_eval(image: Image, seed: tf.Tensor, size: int) -> tf.Tensor:
  """EfficientNet-Lite eval: centre crop (size / (size + 32) of the shorter side),
  resize to `size`, (x - 127) / 128. TF resizes bicubically; this is the
  antialiased bilinear `resize` of the other transforms."""
  del seed
  image = resize(crop(image, lambda hw: lite_centre_window(hw, size)), size)
  return lite_normalize(to_rgb(image))


@TRANSFORMS.register("lite_train")
@reads_encoded
def lite_train(image: Image, seed: tf.Tensor, size: int) -> tf.Tensor:
  """EfficientNet-Lite training: a random crop of area (0.08, 1) and aspect ratio
  (3/4, 4/3) of the image itself (TF's distorted_bounding_box_crop, without its
  10 % object-coverage constraint, which needs boxes), resized to `size`, random
  flip, (x - 127) / 128."""
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
  image = random_resized_crop(image, seeds[0], size)
  image = tf.image.stateless_random_flip_left_right(image, seeds[1])
  return lite_normalize(to_rgb(image))


@TRANSFORMS.register("digits_train")
def digits_train(image: Image, seed: tf.Tensor, size: int) -> tf.Tensor:
  """`digits` after a random crop of up to 2 pixels each way (padding by 2)."""
  image = tf.pad(to_rgb(decode(image)), [[2, 2], [2, 2], [0, 0]])
  shape = tf.shape(image)
  image = tf.image.stateless_random_crop(image, [shape[0] - 4, shape[1] - 4, 3],
                                         tf.cast(seed, tf.int64))
  return digits(image, seed, size)


def get_transform(name: str) -> Transform:
  return TRANSFORMS.get(name)


# FDA: Fourier domain adaptation (Yang & Soatto, CVPR 2020).

def check_fda_beta(beta: float) -> None:
  if not 0.0 <= beta <= 0.5:
    raise ValueError(f"data.fda_beta={beta} is outside [0, 0.5]: it is the half-size of "
                     "the swapped low-frequency square as a fraction of the image's shorter "
                     "side (FDA uses 0.01 to 0.09; 0 turns FDA off).")


def fda_mask(height: tf.Tensor, width: tf.Tensor, beta: float) -> tf.Tensor:
  """Boolean (H, W) mask of the low frequencies FDA swaps, in fft2's (unshifted) order.

  As in the authors' NumPy code: with the spectrum centred by fftshift
  (zero frequency at row floor(H/2), column floor(W/2)), rows [c_h - b, c_h + b)
  and columns [c_w - b, c_w + b), b = floor(min(H, W) * beta); so beta = 0 swaps
  nothing. The mask is built in that centred frame and moved back by ifftshift.
  The square reaches one frequency further on the negative side; as the result
  is real (the real part of the inverse FFT, as in the authors' code), on that
  edge row and column the amplitude ends as the mean of source's and target's.
  """
  b = tf.cast(tf.floor(tf.cast(tf.minimum(height, width), tf.float32) * beta), tf.int32)
  rows, cols = tf.range(height) - height // 2, tf.range(width) - width // 2
  inside = lambda offsets: (offsets >= -b) & (offsets < b)
  centred = inside(rows)[:, None] & inside(cols)[None, :]
  return tf.signal.ifftshift(centred, axes=(0, 1))


def fda(source: tf.Tensor, target: tf.Tensor, beta: float) -> tf.Tensor:
  """`source` (H, W, C) pixels in [0, 255] with its low-frequency amplitude spectrum
  (per channel, `fda_mask`) replaced by `target`'s, its phase kept; float32,
  clipped to [0, 255].

  A target of another size is resized (bilinear, antialiased) to the source's;
  grey and colour images meet in three channels (grey is repeated). Where the
  source amplitude is 0 its phase is taken as 0 (numpy.angle's convention).
  """
  source, target = tf.cast(source, tf.float32), tf.cast(target, tf.float32)
  if source.shape[-1] != target.shape[-1]:
    source, target = to_rgb(source), to_rgb(target)
  shape = tf.shape(source)
  target = tf.cond(tf.reduce_all(tf.shape(target)[:2] == shape[:2]), lambda: target,
                   lambda: tf.image.resize(target, shape[:2], antialias=True))
  # fft2d transforms the last two axes: channels first.
  spectrum = tf.signal.fft2d(tf.complex(tf.transpose(source, (2, 0, 1)), 0.0))
  target_amplitude = tf.abs(tf.signal.fft2d(tf.complex(tf.transpose(target, (2, 0, 1)), 0.0)))
  amplitude = tf.abs(spectrum)
  # amp_t * exp(i phase_s) = spectrum * amp_t / amp_s: outside the mask the spectrum
  # is left untouched, so beta = 0 gives the source back up to FFT rounding.
  scale = tf.math.divide_no_nan(target_amplitude, amplitude)
  swapped = tf.where(amplitude > 0, spectrum * tf.complex(scale, 0.0),
                     tf.complex(target_amplitude, 0.0))
  mask = fda_mask(shape[0], shape[1], beta)[None]
  spectrum = tf.where(mask, swapped, spectrum)
  image = tf.math.real(tf.signal.ifft2d(spectrum))
  return tf.clip_by_value(tf.transpose(image, (1, 2, 0)), 0.0, 255.0)
