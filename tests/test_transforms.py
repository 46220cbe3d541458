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


def test_random_resized_crop_respects_scale_and_ratio():
  # Row and column indices as pixel values reveal the crop box.
  rows, cols = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
  image = tf.constant(np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.float32))
  areas, ratios = [], []
  for s in range(60):
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.zeros([1, 0, 4]), seed=seed(s),
        min_object_covered=0.0, aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0),
        max_attempts=10, use_image_if_no_bounding_boxes=True)
    h, w = int(size[0]), int(size[1])
    areas.append(h * w / 256 ** 2)
    ratios.append(w / h)
    crop = transforms.random_resized_crop(image, seed(s), 32).numpy()
    assert crop.shape == (32, 32, 3)
    assert crop[..., 0].min() >= int(begin[0]) - 1 and crop[..., 0].max() <= int(begin[0]) + h
  assert min(areas) >= 0.08 - 0.01 and max(areas) <= 1.0
  assert min(ratios) >= 3 / 4 - 0.05 and max(ratios) <= 4 / 3 + 0.05
  assert max(areas) - min(areas) > 0.3  # really random


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
