"""Labelled target shots (semi-supervised DA): picking, S+T, MME and its losses."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tldomain import defaults, run_data, trainers
from tldomain.methods import LossInputs, Outputs, get_method
from tldomain.models import ClassifierHead, CosineHead, IdentityBottleneck
from tldomain.steps import ModuleRunner, init_variables, method_loss
from tldomain.trainers import features as features_trainer


def test_pick_labeled_is_per_class_and_repeatable():
  labels = np.repeat(np.arange(4), [5, 3, 7, 4])
  a = run_data.pick_labeled(labels, 3, seed=0, num_classes=4, where="x")
  assert np.array_equal(a, run_data.pick_labeled(labels, 3, 0, 4, "x"))
  assert np.array_equal(np.bincount(labels[a], minlength=4), [3, 3, 3, 3])
  assert not np.array_equal(a, run_data.pick_labeled(labels, 3, 1, 4, "x"))
  with pytest.raises(ValueError, match="class 1 of x has only 3 examples"):
    run_data.pick_labeled(labels, 4, 0, 4, "x")


def test_overlap_in_test_maps_positions_through_slices():
  sizes = {"test": 10, "train": 5}
  # train = test[2:], test = test[:6]: picked train positions 0 and 5 are test 2 and 7.
  got = run_data.overlap_in_test("test[2:]", "test[:6]", np.array([0, 5]), sizes)
  np.testing.assert_array_equal(got, [2])
  assert len(run_data.overlap_in_test("train", "test", np.array([0, 1]), sizes)) == 0


def fewshot_config(small_config, method, shots):
  config = small_config(method, steps=4)
  config.data.target_labeled_per_class = shots
  config.data.target_train_split = "test"  # the labelled split: a transductive run
  config.train.eval_every = 4
  return config


def test_every_method_adds_the_labelled_target_cross_entropy():
  """The step adds CE(labelled target) to whatever loss the method returns."""
  modules = {"backbone": IdentityBottleneck(), "bottleneck": IdentityBottleneck(),
             "head": ClassifierHead(3)}
  rng = np.random.default_rng(0)
  batch = {"source": {"image": jnp.asarray(rng.normal(size=(4, 5)), jnp.float32),
                      "label": jnp.asarray([0, 1, 2, 0], jnp.int32)},
           "target": {"image": jnp.asarray(rng.normal(size=(4, 5)), jnp.float32)},
           "target_labeled": {"image": jnp.asarray(rng.normal(size=(3, 5)), jnp.float32),
                              "label": jnp.asarray([2, 1, 0], jnp.int32)}}
  for name in ("source_only", "entropy", "dann"):
    method, hparams = get_method(name), defaults.method_config(name)
    if "discriminator_hidden" in hparams:
      hparams.discriminator_hidden = (4,)
    all_modules = {**modules, **method.modules(hparams)}
    params, stats = init_variables(all_modules, method, hparams, batch, jax.random.key(0))
    run = ModuleRunner(all_modules, params, stats, train=False)
    with_shots, metrics = method_loss(run, batch, method, hparams, jnp.float32(0.5),
                                      jax.random.key(1))
    without = {k: v for k, v in batch.items() if k != "target_labeled"}
    base, _ = method_loss(ModuleRunner(all_modules, params, stats, train=False), without,
                          method, hparams, jnp.float32(0.5), jax.random.key(1))
    logits = batch["target_labeled"]["image"] @ params["head"]["dense"]["kernel"] + \
        params["head"]["dense"]["bias"]
    ce = -np.mean(np.take_along_axis(jax.nn.log_softmax(logits), np.array([[2], [1], [0]]), 1))
    np.testing.assert_allclose(float(with_shots), float(base) + ce, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(float(metrics["target_labeled_ce"]), ce, rtol=1e-5)


def test_shots_train_mme_and_leave_the_test_set(small_config, tmp_path):
  method = "mme"
  config = fewshot_config(small_config, method, 1)
  workdir = str(tmp_path / method)
  results = trainers.run(config, workdir)
  with open(os.path.join(workdir, "target_labeled.json")) as f:
    picked = json.load(f)
  assert picked["per_class"] == 1 and sorted(picked["labels"]) == list(range(10))
  assert picked["removed_from_target_test"] == 10
  splits = run_data.RunData(config.data, True, 64, seed=config.seed)
  assert len(splits.target_test) == 450 - 10 and len(splits.target_train_all) == 440
  assert np.array_equal(splits.labeled_indices, picked["indices"])
  metrics = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert any("train/target_labeled_ce" in m for m in metrics)
  assert results["target_test_accuracy"] >= 0


def test_split_off_shots_indexes_the_whole_splits_features():
  x = np.arange(8, dtype=np.float32)[:, None]
  y = np.arange(8) % 2
  out = features_trainer.split_off_shots({"target_train": (x, y), "target_test": (x, y)},
                                         np.array([1, 4]), np.array([0, 2, 3, 5, 6, 7]))
  np.testing.assert_array_equal(out["target_labeled"][0][:, 0], [1, 4])
  np.testing.assert_array_equal(out["target_train"][0][:, 0], [0, 2, 3, 5, 6, 7])
  np.testing.assert_array_equal(out["target_test"][1], y[[0, 2, 3, 5, 6, 7]])
  assert "target_test" not in features_trainer.split_off_shots(
      {"target_train": (x, y), "target_test": (x, y)}, np.array([1]), None)


def test_features_mode_shots_reuse_the_feature_cache(small_config, tmp_path):
  """1-shot and 2-shot S+T on frozen features: the shots come out of the cached
  whole target split (no re-extraction), and leave the test set."""
  cache = str(tmp_path / "cache")
  files = []
  for shots in (1, 2):
    config = fewshot_config(small_config, "s_plus_t", shots)
    config.train.mode, config.train.features_cache = "features", cache
    workdir = str(tmp_path / f"shots{shots}")
    results = trainers.run(config, workdir)
    with open(os.path.join(workdir, "target_labeled.json")) as f:
      picked = json.load(f)
    assert picked["removed_from_target_test"] == 10 * shots
    assert np.isfinite(results["target_test_accuracy"])
    metrics = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
    assert any("train/target_labeled_ce" in m for m in metrics)
    files.append(sorted(os.listdir(cache)))
  assert files[0] == files[1]


def test_s_plus_t_needs_shots_and_shots_must_fit(small_config, tmp_path):
  config = fewshot_config(small_config, "s_plus_t", 0)
  with pytest.raises(ValueError, match="set data.target_labeled_per_class"):
    trainers.run(config, str(tmp_path / "a"))
  config = fewshot_config(small_config, "s_plus_t", 1000)
  with pytest.raises(ValueError, match=r"but class \d of uci_digits_m test has only"):
    trainers.run(config, str(tmp_path / "b"))


def test_digits_config_selects_shots():
  from experiments import common  # pylint: disable=g-import-not-at-top
  config = common.load_config(os.path.join(common.ROOT, "configs/digits.py"),
                              "mme,usps,mnist,shots=3")
  assert config.data.target_labeled_per_class == 3 and config.model.head == "cosine"
  assert config.method.trade_off == 0.1 and config.model.head_temperature == 0.05
  with pytest.raises(ValueError, match="valid: shots=K"):
    common.load_config(os.path.join(common.ROOT, "configs/digits.py"), "mme,usps,mnist,k=3")
  config = common.load_config(os.path.join(common.ROOT, "configs/pacs.py"),
                              "s_plus_t,photo,cartoon,shots=1")
  assert config.data.target_labeled_per_class == 1 and config.data.target == "pacs/cartoon"


def test_suite_runs_carry_method_options():
  from experiments import suites  # pylint: disable=g-import-not-at-top
  run = next(r for r in suites.runs(suites.get_suite("pacs_fewshot"), seeds=[2])
             if r.method == "mme,shots=3")
  assert run.path == os.path.join("photo_to_art_painting", "mme_shots3", "seed2")
  assert run.config_arg == "mme,photo,art_painting,shots=3"
  config = run.config()
  assert config.data.target_labeled_per_class == 3 and config.train.mode == "features"


def test_cosine_head_matches_numpy():
  x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
  head = CosineHead(3, temperature=0.05)
  variables = head.init(jax.random.key(0), x, train=False)
  w = np.asarray(variables["params"]["dense"]["kernel"])
  expected = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ w / 0.05
  np.testing.assert_allclose(head.apply(variables, x, train=False), expected, rtol=1e-5,
                             atol=1e-4)


def numpy_entropy(features, w, temperature):
  logits = (features / np.linalg.norm(features, axis=1, keepdims=True)) @ w / temperature
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  return np.mean(-np.sum(p * np.log(p), axis=1))


def test_mme_loss_and_its_minimax_gradients():
  """Loss = CE - lambda H (paper Eq. 5-6); the head ascends H, the features descend it."""
  rng = np.random.default_rng(0)
  fs, ft = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
  labels = np.array([0, 1, 2, 1], np.int32)
  head = CosineHead(3, temperature=0.05)
  w0 = rng.normal(size=(6, 3)) * 0.1
  hparams = defaults.method_config("mme")
  method = get_method("mme")

  def loss(w, ft):
    run = ModuleRunner({"head": head}, {"head": {"dense": {"kernel": w}}}, {}, train=True)
    inputs = LossInputs(source=Outputs(jnp.asarray(fs), run("head", jnp.asarray(fs))),
                        target=Outputs(ft, run("head", ft)), labels=jnp.asarray(labels),
                        progress=jnp.float32(0), apply=run, rng=None)
    return method.loss(inputs, hparams)[0]

  w0j, ftj = jnp.asarray(w0, jnp.float32), jnp.asarray(ft, jnp.float32)
  logits_s = (fs / np.linalg.norm(fs, axis=1, keepdims=True)) @ w0 / 0.05
  ps = np.exp(logits_s - logits_s.max(1, keepdims=True))
  ps /= ps.sum(1, keepdims=True)
  ce = -np.mean(np.log(ps[np.arange(4), labels]))
  np.testing.assert_allclose(float(loss(w0j, ftj)),
                             ce - 0.1 * numpy_entropy(ft, w0, 0.05), rtol=1e-4)
  grad_w, grad_f = jax.grad(loss, argnums=(0, 1))(w0j, ftj)
  eps = 1e-5

  def fd(fn, x):
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
      d = np.zeros_like(x)
      d[i] = eps
      out[i] = (fn(x + d) - fn(x - d)) / (2 * eps)
    return out

  # Head: the plain gradient of CE - lambda H (it maximises the entropy).
  ce_w = lambda w: -np.mean(np.log(
      (lambda l: np.exp(l - l.max(1, keepdims=True)) /
       np.exp(l - l.max(1, keepdims=True)).sum(1, keepdims=True))(
          (fs / np.linalg.norm(fs, axis=1, keepdims=True)) @ w / 0.05)[np.arange(4), labels]))
  np.testing.assert_allclose(
      grad_w, fd(lambda w: ce_w(w) - 0.1 * numpy_entropy(ft, w, 0.05), w0), rtol=2e-3,
      atol=1e-5)
  # Features: reversed, the gradient of +lambda H (they minimise the entropy).
  np.testing.assert_allclose(grad_f, fd(lambda f: 0.1 * numpy_entropy(f, w0, 0.05), ft),
                             rtol=2e-3, atol=1e-5)
