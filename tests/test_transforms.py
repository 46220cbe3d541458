import numpy as np
import pytest
import tensorflow as tf

from tldomain.data import transforms

RNG = np.random.RandomState(0)


def seed(a, b=0):
  return tf.constant([a, b], tf.int64)


def test_imagenet_eval_is_resize_then_centre_crop_then_normalise():
  image = RNG.randint(0, 256, (256, 256, 3)).astype(np.uint8)  # already 256: resize is identity
  out = transforms.imagenet_eval(tf.constant(image), seed(0), 224).numpy()
  expected = (image[16:240, 16:240] / 255.0 - np.array(transforms.IMAGENET_MEAN)) / np.array(
      transforms.IMAGENET_STD)
  np.testing.assert_allclose(out, expected, atol=1e-5)


def test_imagenet_train_is_deterministic_per_seed_and_varies_across_seeds():
  image = tf.constant(RNG.randint(0, 256, (300, 400, 3)).astype(np.uint8))
  a = transforms.imagenet_train(image, seed(1, 2), 224).numpy()
  b = transforms.imagenet_train(image, seed(1, 2), 224).numpy()
  c = transforms.imagenet_train(image, seed(1, 3), 224).numpy()
  assert a.shape == (224, 224, 3)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)


@pytest.mark.parametrize("height,width", [(256, 256), (300, 400), (480, 640), (90, 130)])
def test_random_resized_crop_window_follows_scale_and_ratio_in_the_256_frame(height, width):
  areas, ratios = [], []
  for s in range(80):
    top, left, h, w = transforms.random_resized_crop_window(
        tf.constant([height, width]), seed(s), frame=256).numpy()
    assert 0 <= top and top + h <= height and 0 <= left and left + w <= width
    # Back in the 256x256 frame, where torchvision draws the box.
    fh, fw = h * 256 / height, w * 256 / width
    areas.append(fh * fw / 256 ** 2)
    ratios.append(fw / fh)
  tol = 256 / min(height, width)  # boxes are rounded to whole pixels of the image
  assert min(areas) >= 0.08 * (1 - 0.1 * tol) and max(areas) <= 1.0 * (1 + 0.02 * tol)
  assert min(ratios) >= 3 / 4 * (1 - 0.05 * tol) and max(ratios) <= 4 / 3 * (1 + 0.05 * tol)
  assert max(areas) - min(areas) > 0.3  # really random


def test_random_resized_crop_resizes_the_drawn_box():
  # Row and column indices as pixel values reveal the crop box.
  rows, cols = np.meshgrid(np.arange(300), np.arange(400), indexing="ij")
  image = tf.constant(np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.float32))
  for s in range(20):
    top, left, h, w = transforms.random_resized_crop_window(tf.constant([300, 400]), seed(s),
                                                            frame=256).numpy()
    crop = transforms.random_resized_crop(image, seed(s), 32, frame=256).numpy()
    assert crop.shape == (32, 32, 3)
    assert top - 0.5 <= crop[..., 0].min() and crop[..., 0].max() <= top + h - 0.5
    assert left - 0.5 <= crop[..., 1].min() and crop[..., 1].max() <= left + w - 0.5


def jpeg(shape, subsampling="4:2:0"):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  import io  # pylint: disable=g-import-not-at-top
  # A smooth colour image with some texture, so that chroma upsampling matters.
  y, x = np.mgrid[:shape[0], :shape[1]]
  image = np.stack([128 + 100 * np.sin(x / 7.0), 128 + 100 * np.cos(y / 5.0),
                    RNG.randint(0, 256, shape[:2])], -1).astype(np.uint8)
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, "JPEG", quality=90, subsampling=subsampling)
  return buffer.getvalue()


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:2:2", "4:4:4"])
def test_encoded_jpeg_crops_equal_whole_decode_then_slice(subsampling):
  contents = jpeg((123, 171), subsampling)
  encoded = transforms.EncodedImage(tf.constant(contents), 3)
  decoded = tf.io.decode_jpeg(contents, channels=3)
  for s in range(12):
    box = lambda hw, s=s: transforms.random_resized_crop_window(hw, seed(s), frame=256)
    np.testing.assert_array_equal(transforms.crop(encoded, box).numpy(),
                                  transforms.crop(decoded, box).numpy())
    np.testing.assert_array_equal(transforms.imagenet_train(encoded, seed(s), 64).numpy(),
                                  transforms.imagenet_train(decoded, seed(s), 64).numpy())


def test_encoded_png_and_grey_images_go_through_the_same_transform():
  colour = RNG.randint(0, 256, (50, 70, 3)).astype(np.uint8)
  grey = RNG.randint(0, 256, (50, 70, 1)).astype(np.uint8)
  grey_jpeg = tf.io.encode_jpeg(grey)
  for image, contents in [(colour, tf.io.encode_png(colour)), (grey, tf.io.encode_png(grey)),
                          (tf.io.decode_jpeg(grey_jpeg, channels=1), grey_jpeg)]:
    encoded = transforms.EncodedImage(contents, image.shape[-1])
    for name in ("imagenet_train", "imagenet_eval"):
      a = transforms.get_transform(name)(encoded, seed(4), 32).numpy()
      b = transforms.get_transform(name)(tf.constant(image), seed(4), 32).numpy()
      assert a.shape == (32, 32, 3)
      np.testing.assert_array_equal(a, b)


def test_imagenet_train_is_one_resize_of_the_box_mapped_from_the_256_frame():
  image = RNG.randint(0, 256, (300, 400, 3)).astype(np.uint8)
  top, left, h, w = transforms.random_resized_crop_window(
      tf.constant([300, 400]), tf.random.experimental.stateless_split(seed(5), 2)[0],
      frame=256).numpy()
  expected = tf.image.resize(image[top:top + h, left:left + w], (64, 64), antialias=True)
  out = transforms.imagenet_train(tf.constant(image), seed(5), 64).numpy()
  expected = (expected.numpy() / 255 - transforms.IMAGENET_MEAN) / transforms.IMAGENET_STD
  unflipped = out if np.allclose(out, expected, atol=1e-5) else out[:, ::-1]
  np.testing.assert_allclose(unflipped, expected, atol=1e-5)


def test_flip_happens_for_some_seeds():
  image = tf.constant(np.tile(np.arange(256, dtype=np.uint8)[None, :, None], (256, 1, 3)))
  flipped = 0
  for s in range(20):
    out = transforms.imagenet_train(image, seed(s), 64).numpy()[..., 0]
    flipped += out[:, 0].mean() > out[:, -1].mean()  # columns decrease: mirrored
  assert 3 <= flipped <= 17


def test_imagenet_center_train_is_the_eval_crop_flipped_for_some_seeds():
  image = RNG.randint(0, 256, (256, 256, 3)).astype(np.uint8)
  crop = transforms.imagenet_eval(tf.constant(image), seed(0), 224).numpy()
  outs = [transforms.imagenet_center_train(tf.constant(image), seed(s), 224).numpy()
          for s in range(20)]
  same = sum(np.allclose(out, crop, atol=1e-5) for out in outs)
  mirrored = sum(np.allclose(out, crop[:, ::-1], atol=1e-5) for out in outs)
  assert same + mirrored == 20 and 3 <= mirrored <= 17
  np.testing.assert_array_equal(  # deterministic per seed
      outs[5], transforms.imagenet_center_train(tf.constant(image), seed(5), 224).numpy())


@pytest.mark.parametrize("shape", [(28, 28, 1), (16, 16, 1), (32, 32, 3)])
def test_digits_transform_gives_three_channels_in_minus_one_one(shape):
  image = tf.constant(RNG.randint(0, 256, shape).astype(np.uint8))
  out = transforms.digits(image, seed(0), 28).numpy()
  assert out.shape == (28, 28, 3)
  assert -1.0 <= out.min() and out.max() <= 1.0
  if shape == (28, 28, 1):
    np.testing.assert_allclose(out[..., 1], image.numpy()[..., 0] / 127.5 - 1.0, atol=1e-6)
  train = transforms.digits_train(image, seed(3), 28).numpy()
  assert train.shape == (28, 28, 3)


def test_unknown_transform_lists_valid_names():
  with pytest.raises(KeyError, match="Unknown transform 'imagenet'. Valid names: digits, "
                     "digits_train, imagenet_center_train, imagenet_eval, imagenet_train"):
    transforms.get_transform("imagenet")
