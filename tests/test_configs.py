import importlib.util
import os

import pytest

from experiments import common
from tldomain import methods, optim
from tldomain.data import DOMAINS
from tldomain.data.transforms import TRANSFORMS
from tldomain.models import BACKBONES, pretrained

CONFIGS = os.path.join(common.ROOT, "configs")
BENCHMARKS = ("office31.py", "office_home.py", "visda2017.py", "pacs.py")


def load(path, arg):
  return common.load_config(os.path.join(CONFIGS, path), arg)


def module(path):
  spec = importlib.util.spec_from_file_location(
      "tldomain_config_" + path.removesuffix(".py"), os.path.join(CONFIGS, path))
  config_module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(config_module)
  return config_module


def office31(arg):
  return load("office31.py", arg)


def test_office31_dann_recipe_follows_transfer_learning_library():
  c = office31("dann,A,W")
  assert (c.data.source, c.data.target) == ("office31/amazon", "office31/webcam")
  assert (c.model.backbone, c.model.pretrained) == ("resnet50", "resnet50:torchvision-imagenet1k-v1")
  assert (c.optim.lr, c.optim.weight_decay, c.optim.momentum, c.optim.nesterov) == (
      0.01, 1e-3, 0.9, True)
  assert c.train.steps == 20000 and c.optim.lr_alpha == pytest.approx(20.0)
  assert c.method.grl_gamma == pytest.approx(20.0) and c.method.trade_off == 1.0
  assert c.optim.groups.backbone.lr_mult == 0.1 and c.optim.groups.head.lr_mult == 1.0
  assert c.optim.groups.discriminator.lr_mult == 1.0
  assert c.model.bottleneck_dim == 256 and c.data.batch_size == 32
  assert (c.data.train_transform, c.data.eval_transform, c.data.image_size) == (
      "imagenet_train", "imagenet_eval", 224)


@pytest.mark.parametrize("method, lr, steps, bottleneck, batch", [
    ("source_only", 0.001, 2500, 0, 32), ("mmd", 0.003, 10000, 256, 32),
    ("jan", 0.003, 10000, 256, 32), ("cdan_e", 0.01, 20000, 256, 32),
    ("mcc", 0.005, 10000, 1024, 36), ("mdd", 0.004, 20000, 1024, 32)])
def test_office31_recipes(method, lr, steps, bottleneck, batch):
  c = office31(f"{method},dslr,amazon")
  assert c.method.name == method
  assert (c.optim.lr, c.train.steps, c.model.bottleneck_dim, c.data.batch_size) == (
      lr, steps, bottleneck, batch)


def test_office_home_dann_recipe_trains_longer_than_office31():
  c = load("office_home.py", "dann,Art,Clipart")
  assert (c.data.source, c.data.target) == ("office_home/art", "office_home/clipart")
  assert (c.model.backbone, c.model.pretrained) == ("resnet50", "resnet50:torchvision-imagenet1k-v1")
  assert (c.optim.lr, c.optim.weight_decay, c.model.bottleneck_dim, c.data.batch_size) == (
      0.01, 1e-3, 256, 32)
  assert c.train.steps == 30000 and c.train.eval_every == 1000  # TLL: --epochs 30, -i 1000
  assert c.optim.lr_alpha == pytest.approx(30.0) and c.method.grl_gamma == pytest.approx(30.0)
  assert c.data.train_transform == "imagenet_train" and c.optim.groups.backbone.lr_mult == 0.1


@pytest.mark.parametrize("method, lr, steps, bottleneck, batch", [
    ("source_only", 0.001, 2500, 0, 32), ("mmd", 0.003, 10000, 256, 32),
    ("jan", 0.003, 10000, 256, 32), ("cdan", 0.01, 30000, 256, 32),
    ("mcc", 0.005, 30000, 2048, 36), ("mdd", 0.004, 30000, 2048, 32),
    ("coral", 0.01, 30000, 256, 32)])  # no TLL recipe: DANN's
def test_office_home_recipes(method, lr, steps, bottleneck, batch):
  c = load("office_home.py", f"{method},Pr,Rw")
  assert (c.data.source, c.data.target) == ("office_home/product", "office_home/real_world")
  assert c.method.name == method
  assert (c.optim.lr, c.train.steps, c.model.bottleneck_dim, c.data.batch_size) == (
      lr, steps, bottleneck, batch)


@pytest.mark.parametrize("name", ["Rw", "real_world", "Real World", "RealWorld",
                                  "office_home/real_world", "REAL_WORLD"])
def test_office_home_names_the_real_world_domain_in_every_spelling(name):
  assert module("office_home.py").domain(name) == "office_home/real_world"


def test_pacs_uses_imagenet_lite0_at_its_resolution_and_normalisation():
  c = load("pacs.py", "mcc,photo,A")
  assert (c.data.source, c.data.target) == ("pacs/photo", "pacs/art_painting")
  assert (c.model.backbone, c.model.pretrained) == ("efficientnet_lite0",
                                                    "efficientnet_lite0:imagenet")
  assert c.data.image_size == 224
  assert (c.data.train_transform, c.data.eval_transform) == ("lite_train", "lite_eval")
  assert c.optim.groups.backbone.lr_mult == 0.1
  assert (c.optim.lr, c.model.bottleneck_dim, c.data.batch_size) == (0.005, 1024, 36)


def test_visda2017_dann_recipe_uses_resnet101_and_centre_crops():
  c = load("visda2017.py", "dann")
  assert (c.data.source, c.data.target) == ("visda2017/synthetic", "visda2017/real")
  assert (c.model.backbone, c.model.pretrained) == (
      "resnet101", "resnet101:torchvision-imagenet1k-v1")
  assert (c.data.train_transform, c.data.eval_transform) == ("imagenet_center_train",
                                                            "imagenet_eval")
  assert (c.optim.lr, c.train.steps, c.model.bottleneck_dim, c.data.batch_size) == (
      0.01, 30000, 256, 32)
  assert c.method.grl_gamma == pytest.approx(30.0)


@pytest.mark.parametrize("method, lr, steps, bottleneck, batch, extra", [
    ("source_only", 0.001, 20000, 0, 32, {}), ("mmd", 0.003, 10000, 256, 32, {}),
    ("jan", 0.003, 10000, 256, 32, {}), ("cdan_e", 0.01, 30000, 256, 32, {}),
    ("mcc", 0.002, 30000, 256, 36, {"temperature": 3.0}),
    ("mdd", 0.004, 30000, 1024, 36, {"margin": 4.0})])
def test_visda2017_recipes(method, lr, steps, bottleneck, batch, extra):
  c = load("visda2017.py", f"{method},Synthetic,Real")
  assert c.method.name == method
  assert (c.optim.lr, c.train.steps, c.model.bottleneck_dim, c.data.batch_size) == (
      lr, steps, bottleneck, batch)
  for key, value in extra.items():
    assert c.method[key] == value


@pytest.mark.parametrize("path, arg, valid", [
    ("office31.py", "dann,amazon,caltech",
     "Unknown Office-31 domain 'caltech'; valid: amazon (A), dslr (D), webcam (W)."),
    ("office_home.py", "dann,Art,Sketch",
     "Unknown Office-Home domain 'Sketch'; valid: art (Ar), clipart (Cl), product (Pr), "
     "real_world (Rw)."),
    ("visda2017.py", "dann,synthetic,validation",
     "Unknown VisDA-2017 domain 'validation'; valid: synthetic (Synthetic), real (Real).")])
def test_unknown_domain_lists_the_valid_ones(path, arg, valid):
  with pytest.raises(ValueError) as error:
    load(path, arg)
  assert str(error.value) == valid


def test_malformed_argument_says_what_is_expected():
  with pytest.raises(ValueError, match="Expected 'method"):
    load("office_home.py", "dann,Art,Clipart,Product")


@pytest.mark.parametrize("path", BENCHMARKS)
def test_benchmark_configs_name_what_exists(path):
  benchmark = module(path).BENCHMARK
  for name in benchmark.domains:
    assert f"{benchmark.prefix}/{name}" in DOMAINS
  c = load(path, "dann")
  assert c.data.source in DOMAINS and c.data.target in DOMAINS
  assert c.model.backbone in BACKBONES and c.model.pretrained in pretrained.PRETRAINED
  assert c.data.train_transform in TRANSFORMS and c.data.eval_transform in TRANSFORMS
  # TLL's lr (1 + gamma i)^-0.75 at iteration i equals ours at progress i / steps.
  schedule = optim.learning_rate_schedule(c.optim, c.train.steps)
  for i in (0, 1000, 7777, c.train.steps):
    assert float(schedule(i)) == pytest.approx(0.01 * (1 + 0.001 * i) ** -0.75, rel=1e-5)


@pytest.mark.parametrize("name", methods.METHODS.names())
def test_every_method_has_configs_that_load(name):
  for path, arg in (("office31.py", f"{name},webcam,dslr"), ("office_home.py", f"{name},Cl,Ar"),
                    ("visda2017.py", name), ("digits.py", f"{name},usps,mnist"),
                    ("embedded_digits.py", name), ("pacs.py", f"{name},P,C")):
    config = load(path, arg)
    assert config.method.name == name
    for module_name in methods.get_method(name).modules(config.method):
      assert module_name in config.optim.groups  # its lr multiplier can be set from the CLI
