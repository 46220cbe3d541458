"""Source-free adaptation: SHOT's losses and pseudo-labels, the trainer, bad init_from."""

import json
import logging
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial import distance

from tldomain import data, defaults, trainers
from tldomain.methods import LossInputs, Outputs, get_method
from tldomain.pseudo_labels import centroid_pseudo_labels


def numpy_shot_loss(logits, pseudo, beta):
  """SHOT's Eq. (5)-(6): mean H(p_i) - H(mean p) + beta * CE(p, y_hat), in NumPy."""
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  ent = np.mean(-np.sum(p * np.log(p), axis=1))
  mean = p.mean(0)
  div = -np.sum(mean * np.log(mean))
  ce = -np.mean(np.log(p[np.arange(len(pseudo)), pseudo]))
  return ent - div + beta * ce


@pytest.mark.parametrize("name,beta", [("shot", 0.3), ("shot_im", 0.0)])
def test_shot_loss_matches_numpy(name, beta):
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(16, 5)).astype(np.float32) * 2
  pseudo = rng.integers(0, 5, 16).astype(np.int32)
  method = get_method(name)
  hparams = defaults.method_config(name)
  assert hparams.pseudo_label_weight == beta
  inputs = LossInputs(source=None, target=Outputs(jnp.zeros((16, 3)), jnp.asarray(logits)),
                      labels=None, progress=jnp.float32(0), apply=None, rng=None,
                      target_pseudo_labels=jnp.asarray(pseudo))
  loss, _ = method.loss(inputs, hparams)
  np.testing.assert_allclose(float(loss), numpy_shot_loss(logits, pseudo, beta), rtol=1e-5)


def numpy_centroid_labels(features, logits):
  """The authors' obtain_label, transcribed: two rounds of nearest cosine centroid."""
  f = np.concatenate([features, np.ones((len(features), 1))], 1)
  f = f / np.linalg.norm(f, axis=1, keepdims=True)
  aff = np.exp(logits - logits.max(1, keepdims=True))
  aff /= aff.sum(1, keepdims=True)
  labelset = np.flatnonzero(np.bincount(aff.argmax(1), minlength=aff.shape[1]) > 0)
  for _ in range(2):
    c = aff.T @ f / (1e-8 + aff.sum(0)[:, None])
    labels = labelset[distance.cdist(f, c[labelset], "cosine").argmin(1)]
    aff = np.eye(logits.shape[1])[labels]
  return labels


def test_centroid_pseudo_labels_match_numpy():
  rng = np.random.default_rng(1)
  centres = rng.normal(size=(4, 6)) * 3
  truth = rng.integers(0, 4, 200)
  features = centres[truth] + rng.normal(size=(200, 6))
  logits = rng.normal(size=(200, 4))
  logits[:, 3] -= 10  # class 3 is never predicted: not a candidate
  got = centroid_pseudo_labels(features, logits)
  np.testing.assert_array_equal(got, numpy_centroid_labels(features, logits))
  assert 3 not in got


def shot_config(small_config, init_from, method="shot"):
  config = small_config(method, steps=6)
  assert config.train.mode == "source_free" and config.optim.groups.head.frozen
  config.train.init_from = init_from
  config.train.eval_every = 3
  return config


def test_shot_reads_no_source_and_keeps_head(small_config, finished_source_only, tmp_path,
                                             monkeypatch, caplog):
  opened = []
  load = data.load_split
  monkeypatch.setattr(data, "load_split",
                      lambda domain, split, **kw: opened.append(domain) or load(domain, split, **kw))
  config = shot_config(small_config, finished_source_only)
  config.data.target_train_split = "train[:96]"
  config.data.batch_size = 32  # epochs of 3 steps: pseudo-labels made at steps 0 and 3
  workdir = str(tmp_path / "shot")
  with caplog.at_level(logging.WARNING):
    results = trainers.run(config, workdir)
  assert opened and set(opened) == {"uci_digits_m"}, opened  # the source is never opened
  assert "data.source='uci_digits' is ignored" in caplog.text
  assert results["source_val_accuracy"] is None and results["reads_source"] is False
  assert 0.0 <= results["target_test_accuracy"] <= 1.0
  assert "dev" not in results["evaluations"][-1] and "snd" in results["evaluations"][-1]
  assert set(results["selected"]) == {"last", "entropy", "snd", "oracle"}
  with np.load(os.path.join(workdir, "pseudo_labels.npz")) as saved:
    assert int(saved["epoch"]) == 1 and saved["labels"].shape == (96,)
  # The head (the source hypothesis) is frozen; the features moved.
  from helpers import flat, restore_checkpoint  # pylint: disable=g-import-not-at-top
  before = flat(restore_checkpoint(finished_source_only, 6)["params"])
  after = flat(restore_checkpoint(workdir, 6)["params"])
  heads = [k for k in before if k.startswith("['head']")]
  assert heads and all(np.array_equal(before[k], after[k]) for k in heads)
  assert not np.array_equal(before["['backbone']['conv0']['kernel']"],
                            after["['backbone']['conv0']['kernel']"])


def test_init_from_must_be_a_finished_run(small_config, finished_source_only, tmp_path):
  config = shot_config(small_config, str(tmp_path / "empty"))
  os.makedirs(config.train.init_from)
  with pytest.raises(FileNotFoundError, match="not a tldomain run"):
    trainers.run(config, str(tmp_path / "a"))
  unfinished = str(tmp_path / "unfinished")
  shutil.copytree(finished_source_only, unfinished)
  os.remove(os.path.join(unfinished, "results.json"))
  with pytest.raises(ValueError, match="not a finished run"):
    trainers.run(shot_config(small_config, unfinished), str(tmp_path / "b"))


def test_init_from_with_another_model_names_the_difference(small_config, finished_source_only,
                                                            tmp_path):
  config = shot_config(small_config, finished_source_only)
  config.model.bottleneck_dim = 16
  with pytest.raises(ValueError, match="model.bottleneck_dim: 32 there, 16 here"):
    trainers.run(config, str(tmp_path / "a"))
  other = str(tmp_path / "other")
  shutil.copytree(finished_source_only, other)
  with open(os.path.join(other, "config.json")) as f:
    saved = json.load(f)
  saved["model"]["backbone"] = "resnet18"
  with open(os.path.join(other, "config.json"), "w") as f:
    json.dump(saved, f)
  with pytest.raises(ValueError, match="model.backbone: 'resnet18' there, 'digits_cnn' here"):
    trainers.run(shot_config(small_config, other), str(tmp_path / "b"))


def test_shot_needs_the_source_free_mode(small_config, finished_source_only, tmp_path):
  config = shot_config(small_config, finished_source_only)
  config.train.mode = "finetune"
  with pytest.raises(ValueError, match="runs in train.mode source_free"):
    trainers.run(config, str(tmp_path / "a"))
