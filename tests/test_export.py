"""Export: SavedModel and float TFLite equal the JAX model; int8 is smaller and agrees; bad runs fail."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tldomain import classifier, export, predict, serving
from tldomain.data import transforms


@pytest.fixture(scope="module")
def exported(finished_run, tmp_path_factory):
  out = str(tmp_path_factory.mktemp("export"))
  export.export(finished_run, ["saved_model", "tflite", "tflite_int8"], out,
                representative_examples=32)
  return out


@pytest.fixture(scope="module")
def restored(finished_run):
  return classifier.restore(finished_run)


def target_images(restored, count: int) -> list[np.ndarray]:
  return export.representative_images(restored, count)


def jax_logits(restored, image: np.ndarray) -> np.ndarray:
  """The run's own eval transform (tf.data path), then the JAX classifier."""
  x = transforms.digits(tf.constant(image), None, restored.image_size).numpy()
  return np.asarray(restored.logits(x[None]))[0]


def test_float_exports_equal_jax(exported, restored):
  rng = np.random.default_rng(0)
  # Target images at the model's size, and odd sizes that the graph resizes.
  images = target_images(restored, 3) + [rng.integers(0, 256, (40, 33, 3), np.uint8),
                                         rng.integers(0, 256, (17, 21, 3), np.uint8)]
  saved = predict.SavedModel(os.path.join(exported, "saved_model"))
  lite = predict.TFLiteModel(os.path.join(exported, "model.tflite"))
  for image in images:
    want = jax_logits(restored, image)
    scale = np.abs(want).max()
    for model in (saved, lite):
      got = model.outputs(image)
      np.testing.assert_allclose(got["logits"], want, rtol=0, atol=1e-4 * scale)
      np.testing.assert_allclose(got["probabilities"].sum(), 1.0, atol=1e-5)
  batch = np.stack(images[:3])  # the SavedModel takes batches
  out = saved.serve(images=tf.constant(batch))["logits"].numpy()
  np.testing.assert_allclose(out, [jax_logits(restored, i) for i in batch],
                             atol=1e-4 * np.abs(out).max())


def test_metadata_and_labels(exported, restored):
  with open(os.path.join(exported, "model.json"), encoding="utf-8") as f:
    metadata = json.load(f)
  assert metadata["files"] == {"saved_model": "saved_model", "tflite": "model.tflite",
                               "tflite_int8": "model_int8.tflite"}
  assert metadata["step"] == 6 and metadata["num_parameters"] == restored.num_parameters
  with open(os.path.join(exported, "labels.txt"), encoding="utf-8") as f:
    assert tuple(f.read().splitlines()) == restored.class_names == tuple(metadata["class_names"])
  # The classifier's convolutions and dense layers run in int8.
  int8_ops = metadata["int8_op_types"]["int8"]
  assert int8_ops.get("CONV_2D") == 2 and int8_ops.get("FULLY_CONNECTED") == 2


def test_int8_smaller_and_agrees(exported, restored):
  float_size = os.path.getsize(os.path.join(exported, "model.tflite"))
  int8_size = os.path.getsize(os.path.join(exported, "model_int8.tflite"))
  assert int8_size <= float_size / 3
  lite = predict.TFLiteModel(os.path.join(exported, "model.tflite"))
  int8 = predict.TFLiteModel(os.path.join(exported, "model_int8.tflite"))
  images = target_images(restored, 64)
  want = np.stack([lite(i) for i in images])
  got = np.stack([int8(i) for i in images])
  assert (want.argmax(1) == got.argmax(1)).mean() >= 0.9
  assert np.abs(want - got).max() < 0.1


def test_batch_norm_folding_keeps_logits(restored):
  x = np.random.default_rng(1).normal(size=(4, 28, 28, 3)).astype(np.float32)
  np.testing.assert_allclose(restored.logits(x, fold_batch_norm=True), restored.logits(x),
                             rtol=1e-5, atol=1e-5)


def test_resize_matches_tensorflow():
  rng = np.random.default_rng(2)
  for shape in ((28, 28), (16, 16), (100, 37), (5, 61)):
    image = rng.integers(0, 256, (*shape, 3), np.uint8)
    want = transforms.digits(tf.constant(image), None, 28).numpy()
    got = serving.preprocess(tf.constant(image[None]), "digits", 28).numpy()[0]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_unfinished_run_is_refused(finished_run, tmp_path):
  copy = str(tmp_path / "run")
  shutil.copytree(finished_run, copy)
  os.remove(os.path.join(copy, "results.json"))
  with pytest.raises(classifier.NotExportableError, match="not finished.*step 6 of 6"):
    export.export(copy, ["tflite"], str(tmp_path / "out"))
  shutil.rmtree(os.path.join(copy, "checkpoints"))
  with pytest.raises(classifier.NotExportableError, match="no checkpoint"):
    export.export(copy, ["tflite"], str(tmp_path / "out"))
  with pytest.raises(classifier.NotExportableError, match="no config.json"):
    export.export(str(tmp_path), ["tflite"], str(tmp_path / "out"))


def test_mode_without_export_is_refused(finished_run, tmp_path):
  copy = str(tmp_path / "run")
  shutil.copytree(finished_run, copy)
  path = os.path.join(copy, "config.json")
  with open(path, encoding="utf-8") as f:
    config = json.load(f)
  config["train"]["mode"] = "test_time"
  with open(path, "w", encoding="utf-8") as f:
    json.dump(config, f)
  with pytest.raises(classifier.NotExportableError,
                     match="train.mode='test_time'.*Exportable modes: finetune, distill, features"):
    export.export(copy, ["saved_model"], str(tmp_path / "out"))


def test_unknown_format(finished_run, tmp_path):
  with pytest.raises(ValueError, match="onnx"):
    export.export(finished_run, ["onnx"], str(tmp_path))
