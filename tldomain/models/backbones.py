"""Backbone registry: a config names a backbone, this table builds it.

A backbone is a Flax module called as `module(images, train=...)` that returns
a (batch, features) array. New families register a factory taking the
`config.model` ConfigDict and should pass on its compute dtype
(`precision.compute_dtype(model_config)`, from `model.dtype`).
"""

from typing import Callable

import flax.linen as nn
import ml_collections

from tldomain.models.digits import DigitsCNN
from tldomain.models.efficientnet_lite import VARIANTS as LITE_VARIANTS, EfficientNetLite
from tldomain.models.precision import compute_dtype
from tldomain.models.resnet import ARCHITECTURES, ResNet
from tldomain.registry import Registry

BackboneFactory = Callable[[ml_collections.ConfigDict], nn.Module]
BACKBONES: Registry[BackboneFactory] = Registry("backbone")

BACKBONES.register("digits_cnn", lambda model_config: DigitsCNN(
    width=model_config.get("width", 1.0), dtype=compute_dtype(model_config)))


def _resnet_factory(name: str) -> BackboneFactory:
  arch = ARCHITECTURES.get(name)
  return lambda model_config: ResNet(arch, freeze_bn=model_config.get("freeze_bn", False),
                                     dtype=compute_dtype(model_config))


# Every row of the ResNet table is a backbone: resnet18 ... resnet152, resnext, wide, -D.
for _name in ARCHITECTURES:
  BACKBONES.register(_name, _resnet_factory(_name))


def _lite_factory(name: str) -> BackboneFactory:
  variant = LITE_VARIANTS.get(name)
  return lambda model_config: EfficientNetLite(
      variant, freeze_bn=model_config.get("freeze_bn", False), dtype=compute_dtype(model_config))


# efficientnet_lite0 ... efficientnet_lite4: 1280 pooled features each.
for _name in LITE_VARIANTS:
  BACKBONES.register(_name, _lite_factory(_name))


def build_backbone(model_config: ml_collections.ConfigDict) -> nn.Module:
  return BACKBONES.get(model_config.backbone)(model_config)
