"""Models: backbones by name, plus bottleneck and classifier head."""

import flax.linen as nn
import ml_collections

from tldomain.models.backbones import BACKBONES, build_backbone
from tldomain.models.gradient_reversal import reverse_gradient
from tldomain.models.heads import (Bottleneck, ClassifierHead, DomainDiscriminator,
                                   IdentityBottleneck)

# The classifier is these three modules applied in this order.
CLASSIFIER_MODULES = ("backbone", "bottleneck", "head")


def build_classifier(model_config: ml_collections.ConfigDict,
                     num_classes: int) -> dict[str, nn.Module]:
  """The classifier's modules by name: backbone -> bottleneck -> head."""
  dim = model_config.bottleneck_dim
  return {
      "backbone": build_backbone(model_config),
      "bottleneck": Bottleneck(dim) if dim else IdentityBottleneck(),
      "head": ClassifierHead(num_classes),
  }


__all__ = ["BACKBONES", "CLASSIFIER_MODULES", "Bottleneck", "ClassifierHead",
           "DomainDiscriminator", "IdentityBottleneck", "build_backbone",
           "build_classifier", "reverse_gradient"]
