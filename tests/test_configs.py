import os

import pytest

from experiments import common
from tldomain import methods

CONFIGS = os.path.join(common.ROOT, "configs")


def office31(arg):
  return common.load_config(os.path.join(CONFIGS, "office31.py"), arg)


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


@pytest.mark.parametrize("name", methods.METHODS.names())
def test_every_method_has_configs_that_load(name):
  for path, arg in (("office31.py", f"{name},webcam,dslr"), ("digits.py", f"{name},usps,mnist"),
                    ("embedded_digits.py", name)):
    config = common.load_config(os.path.join(CONFIGS, path), arg)
    assert config.method.name == name
    for module in methods.get_method(name).modules(config.method):
      assert module in config.optim.groups  # its lr multiplier can be set from the CLI
