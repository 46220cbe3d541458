"""A train.mode=features run exports: its frozen backbone is rebuilt from the config.

The run's backbone is the digits CNN, randomly initialised (no
model.pretrained) with a non-default seed, so the rebuilt backbone must repeat
the features trainer's seeded initialisation to give back the cached features.
"""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tldomain import classifier, data, defaults, export, predict, serving, trainers
from tldomain.data import transforms
from tldomain.steps import ModuleRunner


@pytest.fixture(scope="module")
def features_run(data_dir, tmp_path_factory) -> str:
  config = defaults.set_method(defaults.base_config(), "source_only")
  config.data.data_dir = data_dir
  config.data.batch_size = 8
  config.data.eval_batch_size = 128
  config.model.bottleneck_dim = 32
  config.train.mode = "features"
  config.train.steps = config.train.eval_every = 6
  config.train.progress_bar = False
  config.selection.num_examples = 64
  config.seed = 3
  workdir = str(tmp_path_factory.mktemp("features_run"))
  trainers.run(config, workdir)
  return workdir


@pytest.fixture(scope="module")
def restored(features_run):
  return classifier.restore(features_run)


def target_test(restored):
  d = restored.config.data
  domain = data.DOMAINS.get(d.target)
  split = data.load_split(d.target, d.target_test_split or domain.test_split, d.data_dir)
  batch = next(data.eval_batches(split, 10_000, d.eval_transform, d.image_size))
  return split, batch["image"][batch["mask"]], batch["label"][batch["mask"]]


def test_rebuilt_classifier_is_the_trained_one(features_run, restored):
  split, images, labels = target_test(restored)
  # The backbone gives the features the trainer cached (same seeded random init).
  pattern = f"{split.domain.replace('/', '_')}-{split.split}-*.npz"
  (cache,) = glob.glob(os.path.join(features_run, "features", pattern))
  with np.load(cache) as cached:
    run = ModuleRunner(restored.modules, restored.variables["params"],
                       restored.variables["batch_stats"], train=False)
    np.testing.assert_allclose(run("backbone", images), cached["features"], rtol=1e-5,
                               atol=1e-5)
  # And the head reproduces the run's own target accuracy, image for image.
  with open(os.path.join(features_run, "results.json"), encoding="utf-8") as f:
    results = json.load(f)
  accuracy = np.mean(np.asarray(restored.logits(images)).argmax(1) == labels)
  assert accuracy == pytest.approx(results["target_test_accuracy"], abs=1e-9)
  assert set(restored.variables["params"]) == {"backbone", "bottleneck", "head"}


def test_float_exports_equal_jax(features_run, restored, tmp_path):
  out = str(tmp_path / "export")
  metadata = export.export(features_run, ["saved_model", "tflite"], out)
  assert metadata["mode"] == "features"
  assert metadata["num_parameters"] == restored.num_parameters
  saved = predict.SavedModel(os.path.join(out, "saved_model"))
  lite = predict.TFLiteModel(os.path.join(out, "model.tflite"))
  run_model, names = predict.load_model(features_run)  # predict --model=WORKDIR
  assert names == restored.class_names
  rng = np.random.default_rng(0)
  for image in export.representative_images(restored, 2) + [
      rng.integers(0, 256, (40, 33, 3), np.uint8)]:
    x = transforms.digits(tf.constant(image), None, restored.image_size).numpy()
    want = np.asarray(restored.logits(x[None]))[0]
    for model in (saved, lite):
      np.testing.assert_allclose(model.outputs(image)["logits"], want, rtol=0,
                                 atol=1e-4 * np.abs(want).max())
    np.testing.assert_allclose(run_model(image), lite(image), atol=1e-5)


def test_lite_eval_serving_matches_the_transform():
  rng = np.random.default_rng(3)
  for shape, size in (((227, 227), 224), ((300, 200), 224), ((61, 97), 32), ((9, 40), 32)):
    image = rng.integers(0, 256, (*shape, 3), np.uint8)
    want = transforms.lite_eval(tf.constant(image), None, size).numpy()
    got = serving.preprocess(tf.constant(image[None]), "lite_eval", size).numpy()[0]
    # float32 rounding of the two matrix products: 1e-4 is 0.013 of a grey level.
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("transform", ["digits", "imagenet_eval", "lite_eval"])
def test_preprocess_converts_to_tflite_builtins(transform):
  # A TFLite signature takes one image: its batch size must survive the crop,
  # and every op must be a builtin (no TF Select fallback).
  module = tf.Module()
  module.f = tf.function(lambda x: serving.preprocess(x, transform, 32),
                         input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])
  concrete = module.f.get_concrete_function()
  assert concrete.output_shapes.as_list() == [1, 32, 32, 3]
  lite = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module).convert()
  interpreter = export.tflite_interpreter(model_content=lite)
  image = np.random.default_rng(4).integers(0, 256, (1, 45, 38, 3), np.uint8)
  interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], image.shape)
  interpreter.allocate_tensors()
  interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
  interpreter.invoke()
  got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
  np.testing.assert_allclose(got, module.f(image).numpy(), atol=1e-5)


@pytest.mark.parametrize("kernel,stride", [(3, 1), (5, 2)])
def test_depthwise_exports_as_one_tflite_depthwise_conv(kernel, stride):
  import collections  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top

  from tldomain.models import depthwise  # pylint: disable=g-import-not-at-top
  layer = depthwise.DepthwiseConv(kernel, stride)
  x = np.random.default_rng(5).normal(size=(1, 11, 10, 8)).astype(np.float32)
  variables = layer.init(jax.random.key(0), x)
  shifted = np.asarray(layer.apply(variables, x))
  with depthwise.grouped_convolution():
    grouped = np.asarray(layer.apply(variables, x))
  np.testing.assert_allclose(grouped, shifted, rtol=1e-5, atol=1e-5)

  def apply(images):
    with depthwise.grouped_convolution():
      return layer.apply(variables, images)

  module = tf.Module()
  module.f = tf.function(jax2tf.convert(apply, with_gradient=False), autograph=False,
                         input_signature=[tf.TensorSpec(x.shape, tf.float32)])
  lite = tf.lite.TFLiteConverter.from_concrete_functions(
      [module.f.get_concrete_function()], module).convert()
  interpreter = export.tflite_interpreter(model_content=lite)
  ops = collections.Counter(op["op_name"] for op in interpreter._get_ops_details())  # pylint: disable=protected-access
  assert ops["DEPTHWISE_CONV_2D"] == 1 and not ops.keys() & {"SLICE", "STRIDED_SLICE", "MUL"}, ops
  interpreter.allocate_tensors()
  interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
  interpreter.invoke()
  got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
  np.testing.assert_allclose(got, shifted, rtol=1e-5, atol=1e-5)
