import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from tldomain import loop, methods, run_data, trainers
from tldomain.methods.base import Method
from tldomain.methods.losses import cross_entropy
from tldomain.metrics import read_jsonl

from helpers import flat, restore_checkpoint


def test_dann_run_writes_results_metrics_checkpoints(small_config, tmp_path):
  workdir = str(tmp_path / "run")
  results = trainers.run(small_config("dann", steps=12), workdir)
  on_disk = json.load(open(os.path.join(workdir, "results.json")))
  assert on_disk == results
  for key in ("method", "source", "target", "steps", "target_test_accuracy", "wall_seconds"):
    assert key in on_disk
  assert (on_disk["method"], on_disk["source"], on_disk["target"], on_disk["steps"]) == (
      "dann", "uci_digits", "uci_digits_m", 12)
  assert 0.0 <= on_disk["target_test_accuracy"] <= 1.0
  assert on_disk["best_checkpoint"]["criterion"] == "source_val_accuracy"
  records = read_jsonl(os.path.join(workdir, "metrics.jsonl"))
  train_steps = [r["step"] for r in records if "train/loss" in r]
  assert train_steps == [4, 8, 12]
  assert {"train/domain_loss", "train/grl_coefficient", "train/images_per_second"} <= set(records[0])
  eval_records = [r for r in records if "eval/target_test_accuracy" in r]
  assert [r["step"] for r in eval_records] == [6, 12]
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  assert json.load(open(os.path.join(workdir, "config.json")))["method"]["name"] == "dann"
  # The latest (12) and the best by source accuracy are kept; others deleted.
  steps = sorted(int(s) for s in os.listdir(os.path.join(workdir, "checkpoints")) if s.isdigit())
  assert 12 in steps and set(steps) <= {6, 12}
  assert on_disk["best_checkpoint"]["step"] in steps


def test_stopped_and_restarted_run_ends_equal_to_uninterrupted(small_config, tmp_path):
  whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
  trainers.run(small_config("dann", steps=12), whole)
  config = small_config("dann", steps=12)
  config.train.stop_at_step = 7  # not a checkpoint interval: the stop saves step 7
  assert trainers.run(config, parts) is None
  assert not os.path.exists(os.path.join(parts, "results.json"))
  assert 7 in [int(s) for s in os.listdir(os.path.join(parts, "checkpoints")) if s.isdigit()]
  config.train.stop_at_step = -1
  results = trainers.run(config, parts)
  assert results["resumed_from_step"] == 7
  a, b = flat(restore_checkpoint(whole, 12)), flat(restore_checkpoint(parts, 12))
  assert sorted(a) == sorted(b)
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)
  # Restarting a finished run trains nothing and reports the same accuracy.
  again = trainers.run(config, parts)
  assert again["resumed_from_step"] == 12
  assert again["target_test_accuracy"] == results["target_test_accuracy"]


def nan_after_half(inputs, hparams):
  del hparams
  loss = cross_entropy(inputs.source.logits, inputs.labels)
  return jnp.where(inputs.progress >= 0.5, jnp.nan, loss), {}


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    small_config, tmp_path):
  methods.register(Method(name="nan_after_half", loss=nan_after_half, uses_target=False),
                   overwrite=True)
  config = small_config("nan_after_half", steps=12)
  config.train.eval_every = 3
  workdir = str(tmp_path / "nan")
  with pytest.raises(loop.NonFiniteLossError,
                     match=r"loss is nan at step 7;.*last good checkpoint is kept \(step 6 in "):
    trainers.run(config, workdir)
  steps = [int(s) for s in os.listdir(os.path.join(workdir, "checkpoints")) if s.isdigit()]
  assert 6 in steps and max(steps) == 6
  assert not os.path.exists(os.path.join(workdir, "results.json"))


def test_unknown_method_and_backbone_list_valid_names(small_config, tmp_path):
  with pytest.raises(KeyError, match="Unknown method 'dan'. Valid names: .*dann.*source_only"):
    methods.get_method("dan")
  config = small_config("source_only")
  config.model.backbone = "resnet5O"
  with pytest.raises(KeyError, match="Unknown backbone 'resnet5O'. Valid names: .*digits_cnn"):
    trainers.run(config, str(tmp_path / "bad"))
  config = small_config("source_only")
  config.data.target = "mnist_n"
  with pytest.raises(KeyError, match="Unknown dataset 'mnist_n'. Valid names: .*uci_digits_m"):
    trainers.run(config, str(tmp_path / "bad2"))


def test_split_overrides_pick_the_splits(small_config, tmp_path):
  config = small_config("dann", steps=2)
  config.data.target_train_split = "test"  # transductive: adapt on the test images
  config.data.source_val_split = "train"
  splits = run_data.RunData(config.data, True, config.selection.num_examples)
  assert splits.target_train.split == "test" and len(splits.target_train) == 450
  assert splits.source_val.split == "train" and len(splits.source_val) == 1347
  assert splits.target_test.split == "test"


def test_source_and_target_must_share_class_names():
  from tldomain import data  # pylint: disable=g-import-not-at-top
  empty = np.zeros((1, 2, 2, 3), np.uint8)

  def split(domain, names):
    return data.Split(domain, "train", empty, np.zeros(1, np.int64), 3, len(names), False,
                      tuple(names))

  run_data.check_same_classes(split("a", ["cat", "dog"]), split("b", ["cat", "dog"]))
  run_data.check_same_classes(split("a", ["0", "1"]), split("b", ["cat", "dog"]))  # unnamed
  with pytest.raises(ValueError, match="name their classes differently.*0: 'cat' vs 'bike'"):
    run_data.check_same_classes(split("a", ["cat", "dog"]), split("b", ["bike", "dog"]))
  with pytest.raises(ValueError, match="has 2 classes but target 'b' has 3"):
    run_data.check_same_classes(split("a", ["cat", "dog"]), split("b", ["a", "b", "c"]))
