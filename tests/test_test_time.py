"""Test-time adaptation: AdaBN's pooled statistics, TENT's online pass, the trainer."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from tldomain import defaults, trainers
from tldomain.methods import LossInputs, Outputs, get_method
from tldomain.models import Bottleneck, ClassifierHead, IdentityBottleneck
from tldomain.steps import ModuleRunner, TrainState, classify, init_variables
from tldomain.trainers import test_time


def toy_state():
  """Dense -> BatchNorm -> ReLU -> Dense on 5-d inputs."""
  modules = {"backbone": IdentityBottleneck(), "bottleneck": Bottleneck(4),
             "head": ClassifierHead(3)}
  method = get_method("tent")
  example = {"target": {"image": jnp.zeros((2, 5))}}
  params, stats = init_variables(modules, method, defaults.method_config("tent"), example,
                                 jax.random.key(0))
  return modules, TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=stats,
                             opt_state=())


def test_adabn_pools_the_target_statistics_of_the_whole_pass():
  modules, state = toy_state()
  x = np.random.default_rng(0).normal(2.0, 3.0, size=(50, 5)).astype(np.float32)
  batches = [(x[i:i + 16], None) for i in range(0, 50, 16)]  # 16, 16, 16, 2
  adapted, count = test_time.adabn_statistics(state, modules, batches)
  dense = state.params["bottleneck"]["dense"]
  h = x @ np.asarray(dense["kernel"]) + np.asarray(dense["bias"])
  bn = adapted.batch_stats["bottleneck"]["bn"]
  assert count == 50
  np.testing.assert_allclose(bn["mean"], h.mean(0), rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(bn["var"], h.var(0), rtol=1e-4, atol=1e-4)
  assert jax.tree.all(jax.tree.map(np.array_equal, adapted.params, state.params))


def test_tent_loss_is_the_mean_entropy():
  logits = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
  p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
  inputs = LossInputs(source=None, target=Outputs(jnp.zeros((6, 2)), jnp.asarray(logits)),
                      labels=None, progress=jnp.float32(0), apply=None, rng=None)
  loss, _ = get_method("tent").loss(inputs, defaults.method_config("tent"))
  np.testing.assert_allclose(float(loss), np.mean(-np.sum(p * np.log(p), 1)), rtol=1e-5)


def test_tent_predicts_each_batch_before_it_updates_only_bn_affine(tmp_path):
  modules, state = toy_state()
  rng = np.random.default_rng(1)
  batches = [(rng.normal(size=(8, 5)).astype(np.float32), rng.integers(0, 3, 8))
             for _ in range(3)]
  hparams = defaults.method_config("tent")
  hparams.lr = 0.1
  writer = type("W", (), {"write": lambda self, step, scalars: None})()
  adapted, online, steps = test_time.tent_pass(state, modules, get_method("tent"), hparams,
                                               iter(batches), writer)
  assert steps == 3
  # Online accuracy: batch k scored by the model after updates on batches < k only.
  expected_correct, replay = 0, state
  for k, (images, labels) in enumerate(batches):
    run = ModuleRunner(modules, replay.params, replay.batch_stats, train=True)
    expected_correct += int(np.sum(np.argmax(classify(run, images).logits, -1) == labels))
    replay, _, _ = test_time.tent_pass(replay, modules, get_method("tent"), hparams,
                                       iter(batches[k:k + 1]), writer)
  assert online == expected_correct / 24
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), state.params, adapted.params)
  assert changed["bottleneck"]["bn"]["scale"] and changed["bottleneck"]["bn"]["bias"]
  assert not changed["bottleneck"]["dense"]["kernel"] and not changed["head"]["dense"]["kernel"]


def test_adabn_and_tent_runs_from_a_finished_run(small_config, finished_source_only, tmp_path):
  source = json.load(open(os.path.join(finished_source_only, "results.json")))
  for name in ("adabn", "tent"):
    config = small_config(name)
    assert config.train.mode == "test_time"
    config.train.init_from = finished_source_only
    if name == "tent":
      config.method.batch_size = 150
    results = trainers.run(config, str(tmp_path / name))
    assert results["reads_source"] is False and results["source_val_accuracy"] is None
    assert results["adapt_seconds"] > 0 and 0 <= results["target_test_accuracy"] <= 1
    assert results["target_test_accuracy"] != source["target_test_accuracy"]
    if name == "tent":
      assert results["steps"] == 3 and results["online_examples"] == 450
      assert 0 <= results["online_target_test_accuracy"] <= 1
    else:
      assert results["steps"] == 0 and results["bn_statistics_examples"] == 1347


def test_a_features_mode_run_starts_test_time_adaptation_with_its_backbone(small_config,
                                                                          tmp_path):
  """A features-mode checkpoint lacks the frozen backbone: init_from puts it back,
  so the rebuilt image classifier scores what the features run scored, and AdaBN
  then adapts every BatchNorm, the backbone's included."""
  from tldomain import compute, init_from, run_data, sharding  # pylint: disable=g-import-not-at-top
  config = small_config("source_only", steps=4)
  config.train.mode = "features"
  features_run = str(tmp_path / "features_run")
  before = trainers.run(config, features_run)

  config = small_config("adabn")
  config.train.init_from = features_run
  splits = run_data.RunData(config.data, True, 64, source=False)
  mesh = sharding.make_mesh()
  finished = init_from.load(features_run, config, splits.num_classes)
  assert set(finished.params) == {"backbone", "bottleneck", "head"}
  compiled = compute.compile_steps(config, get_method("adabn"), splits.num_classes, mesh)
  state = init_from.with_weights(compiled, finished, mesh)
  rebuilt = run_data.evaluate(compiled.predict_step, state, splits, config.data,
                              config.selection.snd_temperature, mesh)
  np.testing.assert_allclose(rebuilt["target_test_accuracy"], before["target_test_accuracy"],
                             atol=1 / 450)  # one image may flip by rounding
  from tldomain.inference import RestoredRun  # pylint: disable=g-import-not-at-top
  restored = RestoredRun(features_run)  # the analysis path (t-SNE) rebuilds it the same way
  out = restored.outputs("target_test", 450)
  assert restored.step == 4
  np.testing.assert_allclose(np.mean(out["logits"].argmax(1) == out["label"]),
                             before["target_test_accuracy"], atol=1 / 450)

  results = trainers.run(config, str(tmp_path / "adabn"))
  assert results["target_test_accuracy"] != before["target_test_accuracy"]
