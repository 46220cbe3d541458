"""Feature-extraction mode end to end: ResNet-18 features of the embedded digits, a head on them."""

import json
import os

import numpy as np
import pytest
import torch
import torchvision

from tldomain import data, trainers

from torch_reference import assert_close


def test_features_mode_caches_features_and_trains_a_linear_head(
    usps_to_mnist_config, resnet18_file, tmp_path, monkeypatch):
  """End to end on a small real task: USPS -> MNIST at 32 px."""
  monkeypatch.setenv("TLDOMAIN_CACHE", str(tmp_path / "cache"))
  config = usps_to_mnist_config("source_only", steps=200)
  config.train.mode = "features"
  config.data.image_size = 32
  config.data.batch_size = 32
  config.model.backbone = "resnet18"
  config.model.pretrained = resnet18_file
  config.model.bottleneck_dim = 0  # a linear head on the 512-d features
  workdir = str(tmp_path / "run")
  results = trainers.run(config, workdir)

  assert json.load(open(os.path.join(workdir, "results.json"))) == results
  assert {"method", "source", "target", "steps", "target_test_accuracy",
          "wall_seconds"} <= set(results)
  assert (results["source"], results["target"]) == ("usps", "mnist")
  assert (results["mode"], results["steps"], results["feature_dim"]) == ("features", 200, 512)
  # Ten classes: a head that learned nothing would sit near 0.1 on the source.
  assert results["source_val_accuracy"] > 0.3
  assert 0.0 <= results["target_test_accuracy"] <= 1.0

  # The cached features are the PyTorch model's pooled features of the same images.
  folder = os.path.join(workdir, "features")
  files = sorted(os.listdir(folder))
  # Source train and test, target train and test: the selection criteria read
  # unlabelled target features even when the method does not train on them.
  assert len(files) == 4
  test_file = [f for f in files if f.startswith("usps-test[:500]-")][0]
  cached = np.load(os.path.join(folder, test_file))
  split = data.load_split("usps", "test[:500]", config.data.data_dir, config.data.manual_dir)
  batch = next(data.eval_batches(split, 8, config.data.eval_transform, 32))
  torch_model = torchvision.models.resnet18()
  torch_model.load_state_dict(torch.load(resnet18_file, weights_only=True))
  torch_model.fc = torch.nn.Identity()
  with torch.no_grad():
    nchw = np.ascontiguousarray(batch["image"].transpose(0, 3, 1, 2))
    expected = torch_model.eval()(torch.from_numpy(nchw)).numpy()
  assert_close(cached["features"][:8], expected)
  np.testing.assert_array_equal(cached["labels"][:8], batch["label"])
  assert len(cached["labels"]) == len(split)

  # A rerun reuses the cache and reproduces the result.
  mtimes = {f: os.path.getmtime(os.path.join(folder, f)) for f in files}
  again = trainers.run(config, workdir)
  assert again["target_test_accuracy"] == results["target_test_accuracy"]
  assert {f: os.path.getmtime(os.path.join(folder, f)) for f in files} == mtimes


def test_unknown_train_mode_lists_the_valid_ones(small_config, tmp_path):
  config = small_config("source_only")
  config.train.mode = "linear_probe"
  valid = ", ".join(trainers.TRAINERS.names())
  assert "features, finetune" in valid
  with pytest.raises(KeyError, match=f"Unknown train.mode 'linear_probe'. Valid names: {valid}"):
    trainers.run(config, str(tmp_path / "run"))
