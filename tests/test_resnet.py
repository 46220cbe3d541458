"""The Flax ResNets against torchvision's and timm's, and fine-tuning from converted weights."""

import importlib.util
import json
import os
import pathlib

import jax
import ml_collections
import numpy as np
import pytest
import timm
import torch
import torchvision

from tldomain import optim, trainers
from tldomain.data.transforms import TRANSFORMS
from tldomain.models import BACKBONES, build_backbone, convert, pretrained, resnet

from helpers import flat
from torch_reference import (assert_close, images, numpy_state_dict, pooled_and_logits,
                             randomised, to_nhwc)


def converted(torch_model: torch.nn.Module, arch: str) -> convert.ConvertedWeights:
  return convert.convert_state_dict(numpy_state_dict(torch_model), arch)


def stage_outputs(torch_model: torch.nn.Module, x: np.ndarray) -> list[np.ndarray]:
  outputs = []

  def keep(module, inputs, output):
    outputs.append(output.detach().numpy().transpose(0, 2, 3, 1))

  hooks = [getattr(torch_model, f"layer{i}").register_forward_hook(keep) for i in range(1, 5)]
  with torch.no_grad():
    torch_model(torch.from_numpy(x))
  for hook in hooks:
    hook.remove()
  return outputs


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_torchvision_eval_features_logits_and_stages_match(arch):
  torch_model = randomised(getattr(torchvision.models, arch)()).eval()
  weights = converted(torch_model, arch)
  x = images(2, 224)
  with torch.no_grad():
    pooled, logits = pooled_and_logits(torch_model, x)
  model = resnet.build_resnet(arch, return_stages=True)
  flax_pooled, stages = jax.jit(lambda v, x: model.apply(v, x, train=False))(
      weights.backbone, to_nhwc(x))
  assert flax_pooled.shape == (2, resnet.ARCHITECTURES.get(arch).num_features)
  assert_close(flax_pooled, pooled)
  assert_close(convert.head_module(weights).apply(weights.head, flax_pooled, train=False), logits)
  for flax_stage, torch_stage in zip(stages, stage_outputs(torch_model, x), strict=True):
    assert flax_stage.shape == torch_stage.shape
    assert_close(flax_stage, torch_stage)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_one_training_forward_updates_batchnorm_statistics_like_pytorch(arch):
  torch_model = randomised(getattr(torchvision.models, arch)())
  weights = converted(torch_model, arch)
  x = images(2, 224, seed=1)
  torch_model.train()
  with torch.no_grad():
    torch_pooled, _ = pooled_and_logits(torch_model, x)
  expected = converted(torch_model, arch).backbone["batch_stats"]
  model = resnet.build_resnet(arch)
  pooled, updated = train_forward(model, weights.backbone, to_nhwc(x))
  assert_close(pooled, torch_pooled)
  before, after, want = (flat(weights.backbone["batch_stats"]),
                         flat(updated["batch_stats"]), flat(expected))
  assert sorted(after) == sorted(want)
  for key in want:
    assert not np.allclose(before[key], want[key]), f"{key} did not move in PyTorch"
    assert_close(after[key], want[key])


def train_forward(model, variables, x):
  return jax.jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))(
      variables, x)


def test_freeze_bn_keeps_running_statistics_while_training():
  weights = converted(randomised(torchvision.models.resnet18()), "resnet18")
  x = to_nhwc(images(2, 32))
  frozen = resnet.build_resnet("resnet18", freeze_bn=True)
  out, updated = train_forward(frozen, weights.backbone, x)
  assert_close(out, frozen.apply(weights.backbone, x, train=False))
  for key, value in flat(weights.backbone["batch_stats"]).items():
    np.testing.assert_array_equal(flat(updated["batch_stats"])[key], value)
  _, moved = train_forward(resnet.build_resnet("resnet18"), weights.backbone, x)
  assert not np.allclose(flat(moved["batch_stats"])["['bn1']['mean']"],
                         flat(weights.backbone["batch_stats"])["['bn1']['mean']"])


def assert_same_outputs(torch_model, weights, arch: str, size: int) -> None:
  """Pooled features and logits of the converted Flax model match PyTorch's in eval mode."""
  x = images(2, size)
  with torch.no_grad():
    pooled, logits = pooled_and_logits(torch_model, x)
  flax_pooled = jax.jit(lambda v, x: resnet.build_resnet(arch).apply(v, x, train=False))(
      weights.backbone, to_nhwc(x))
  assert_close(flax_pooled, pooled)
  assert_close(convert.head_module(weights).apply(weights.head, flax_pooled, train=False), logits)


# Grouped 3x3 convolutions and a non-default width: a table row, no new code.
@pytest.mark.parametrize("arch,size", [("resnext50_32x4d", 32)])
def test_table_variants_match_torchvision(arch, size):
  torch_model = randomised(getattr(torchvision.models, arch)()).eval()
  weights = converted(torch_model, arch)
  assert_same_outputs(torch_model, weights, arch, size)


# resnet50d: deep stem and average-pool shortcuts; an odd size makes the pools' ceil mode matter.
@pytest.mark.parametrize("arch,size", [("resnet50", 224), ("resnet50d", 33)])
def test_timm_models_match(arch, size, tmp_path):
  from safetensors.torch import save_file  # pylint: disable=g-import-not-at-top
  torch_model = randomised(timm.create_model(arch, pretrained=False)).eval()
  path = str(tmp_path / "model.safetensors")  # timm's hub format
  save_file(torch_model.state_dict(), path)
  weights = convert.convert_state_dict(convert.read_state_dict(path), arch)
  assert_same_outputs(torch_model, weights, arch, size)


def test_every_architecture_is_a_backbone_with_its_feature_width():
  expected = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048,
              "resnet152": 2048, "resnext50_32x4d": 2048, "wide_resnet50_2": 2048}
  for name in resnet.ARCHITECTURES:
    assert name in BACKBONES
  for name, width in expected.items():
    model = build_backbone(ml_collections.ConfigDict({"backbone": name, "freeze_bn": False}))
    out = jax.eval_shape(lambda m=model: m.init_with_output(
        jax.random.key(0), np.zeros((2, 224, 224, 3), np.float32), train=False)[0])
    assert out.shape == (2, width), name


def test_office31_config_follows_the_recipe_and_names_what_exists():
  spec = importlib.util.spec_from_file_location(
      "office31", pathlib.Path(__file__).parents[1] / "configs" / "office31.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config("source_only,D,A")
  assert (config.data.source, config.data.target) == ("office31/dslr", "office31/amazon")
  assert config.method.name == "source_only"
  config = module.get_config()
  assert (config.method.name, config.data.source, config.data.target) == (
      "dann", "office31/amazon", "office31/webcam")
  assert config.model.backbone in BACKBONES
  assert config.model.pretrained in pretrained.PRETRAINED
  assert config.data.train_transform in TRANSFORMS and config.data.eval_transform in TRANSFORMS
  groups = config.optim.groups
  assert (groups.backbone.lr_mult, groups.bottleneck.lr_mult, groups.head.lr_mult) == (0.1, 1, 1)
  # TLL's lr (1 + 0.001 x)^-0.75 at iteration x equals ours at progress x / steps.
  schedule = optim.learning_rate_schedule(config.optim, config.train.steps)
  for x in (0, 1000, 7777, 20000):
    assert float(schedule(x)) == pytest.approx(0.01 * (1 + 0.001 * x) ** -0.75, rel=1e-5)


def test_finetune_from_converted_torchvision_checkpoint_with_a_new_head(
    usps_to_mnist_config, resnet18_file, tmp_path, monkeypatch):
  """End to end on a small real task: USPS -> MNIST at 32 px."""
  monkeypatch.setenv("TLDOMAIN_CACHE", str(tmp_path / "cache"))
  config = usps_to_mnist_config("source_only", steps=2)
  config.data.image_size = 32
  config.model.backbone = "resnet18"
  config.model.pretrained = resnet18_file
  config.optim.groups.backbone.lr_mult = 0.1  # Transfer-Learning-Library's recipe
  config.train.eval_every = 2
  workdir = str(tmp_path / "run")
  results = trainers.run(config, workdir)
  assert json.load(open(os.path.join(workdir, "results.json"))) == results
  assert (results["source"], results["target"]) == ("usps", "mnist")
  assert (results["backbone"], results["steps"]) == ("resnet18", 2)
  assert 0.0 <= results["target_test_accuracy"] <= 1.0

  from orbax.checkpoint import StandardCheckpointer  # pylint: disable=g-import-not-at-top
  state = StandardCheckpointer().restore(os.path.join(workdir, "checkpoints", "2", "default"))
  assert state["params"]["head"]["dense"]["kernel"].shape == (32, 10)  # a new, 10-class head
  start = convert.convert_state_dict(convert.read_state_dict(resnet18_file), "resnet18")
  start, end = flat(start.backbone["params"]), flat(state["params"]["backbone"])
  assert sorted(start) == sorted(end)
  # Two steps at lr 0.01 x 0.1 move every converted tensor, by a little (the stem's
  # kernel most, about 10 %): a fresh initialisation would be about sqrt(2) x its
  # norm away.
  for key in start:
    change = np.linalg.norm(end[key] - start[key]) / np.linalg.norm(start[key])
    assert 0 < change < 0.3, (key, change)
