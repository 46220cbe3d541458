"""predict: image modes converted as documented, bad inputs reported by name, top-k from a run."""

import io

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from tldomain import classifier, predict
from tldomain.data import transforms


def test_modes_become_rgb_uint8():
  grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
  expect_grey = np.repeat(grey[..., None], 3, -1)
  np.testing.assert_array_equal(predict.to_rgb_uint8(Image.fromarray(grey)), expect_grey)
  la = Image.fromarray(np.stack([grey, np.zeros_like(grey)], -1))
  assert la.mode == "LA"
  np.testing.assert_array_equal(predict.to_rgb_uint8(la), expect_grey)  # alpha dropped
  rgba = np.random.default_rng(0).integers(0, 256, (3, 4, 4), np.uint8)
  np.testing.assert_array_equal(predict.to_rgb_uint8(Image.fromarray(rgba)),
                                rgba[..., :3])
  sixteen = np.array([[0, 257, 65535, 1000]], np.uint16)
  want = np.repeat(np.array([[0, 1, 255, 4]], np.uint8)[..., None], 3, -1)
  np.testing.assert_array_equal(predict.to_rgb_uint8(Image.fromarray(sixteen)), want)
  floats = Image.fromarray(np.array([[-3.0, 12.4, 300.0]], np.float32))
  np.testing.assert_array_equal(predict.to_rgb_uint8(floats)[..., 0], [[0, 12, 255]])
  bilevel = Image.fromarray(np.array([[True, False]]))
  np.testing.assert_array_equal(predict.to_rgb_uint8(bilevel)[..., 1], [[255, 0]])


def test_sixteen_bit_png_read_from_disk(tmp_path):
  path = tmp_path / "deep.png"
  Image.fromarray(np.full((5, 6), 65535, np.uint16)).save(path)
  image = predict.read_image(str(path))
  assert image.dtype == np.uint8 and image.shape == (5, 6, 3) and (image == 255).all()


class FirstPixel:
  """A stand-in model: probabilities from the top-left pixel, so outputs are checkable."""

  def __call__(self, image):
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3
    p = np.zeros(3)
    p[int(image[0, 0, 0]) % 3] = 1.0
    return p


def test_bad_inputs_reported_and_others_predicted(tmp_path):
  good = tmp_path / "images"
  (good / "sub").mkdir(parents=True)
  Image.fromarray(np.full((4, 4, 3), 1, np.uint8)).save(good / "rgb.png")
  Image.fromarray(np.full((4, 4), 2, np.uint8)).save(good / "sub" / "grey.jpg")
  (good / "broken.png").write_bytes(b"\x89PNG not really")
  buffer = io.BytesIO()
  Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, "JPEG")
  (good / "truncated.jpg").write_bytes(buffer.getvalue()[:40])
  (tmp_path / "empty").mkdir()
  (tmp_path / "empty" / "notes.txt").write_text("no images here")
  out, err = io.StringIO(), io.StringIO()
  failures = predict.predict(FirstPixel(), ("zero", "one", "two"),
                             [str(good), str(tmp_path / "empty"), str(tmp_path / "missing.png")],
                             k=2, out=out, err=err)
  assert failures == 4
  lines = out.getvalue().splitlines()
  assert lines == [f"{good / 'rgb.png'}: one (1.000), zero (0.000)",
                   f"{good / 'sub' / 'grey.jpg'}: two (1.000), zero (0.000)"]
  errors = err.getvalue()
  for name in ("broken.png", "truncated.jpg", "empty: error: folder holds no image files",
               "missing.png: error: no such file or folder"):
    assert name in errors


def test_predict_from_workdir_matches_classifier(finished_run, tmp_path):
  model, names = predict.load_model(finished_run)
  restored = classifier.restore(finished_run)
  assert names == restored.class_names
  image = np.random.default_rng(3).integers(0, 256, (28, 28, 3), np.uint8)
  x = transforms.digits(tf.constant(image), None, 28).numpy()[None]
  want = np.asarray(tf.nn.softmax(np.asarray(restored.logits(x))))[0]
  np.testing.assert_allclose(model(image), want, atol=1e-5)
  with pytest.raises(ValueError, match="neither an export folder"):
    predict.load_model(str(tmp_path))
