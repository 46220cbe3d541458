"""Models: backbones by name, plus bottleneck and classifier head."""

import flax.linen as nn
import ml_collections

from tldomain.models.backbones import BACKBONES, build_backbone
from tldomain.models.cosine_head import CosineHead
from tldomain.models.gradient_reversal import reverse_gradient
from tldomain.models.heads import (Bottleneck, ClassifierHead, DomainDiscriminator,
                                   IdentityBottleneck)
from tldomain.models.precision import DTYPES, compute_dtype, with_dtype

# The classifier is these three modules applied in this order.
CLASSIFIER_MODULES = ("backbone", "bottleneck", "head")


def build_classifier(model_config: ml_collections.ConfigDict,
                     num_classes: int) -> dict[str, nn.Module]:
  """The classifier's modules by name: backbone -> bottleneck -> head.

  All compute in `model_config.dtype` (float32 or bfloat16) with float32 parameters.
  """
  dim = model_config.bottleneck_dim
  dtype = compute_dtype(model_config)
  head = model_config.get("head", "linear")
  if head not in ("linear", "cosine"):
    raise ValueError(f"Unknown model.head {head!r}; valid: linear, cosine.")
  return {
      "backbone": build_backbone(model_config),
      "bottleneck": Bottleneck(dim, dtype=dtype) if dim else IdentityBottleneck(),
      "head": (CosineHead(num_classes, model_config.get("head_temperature", 0.05), dtype=dtype)
               if head == "cosine" else ClassifierHead(num_classes, dtype=dtype)),
  }


__all__ = ["BACKBONES", "CLASSIFIER_MODULES", "DTYPES", "Bottleneck", "ClassifierHead", "CosineHead",
           "DomainDiscriminator", "IdentityBottleneck", "build_backbone",
           "build_classifier", "compute_dtype", "reverse_gradient", "with_dtype"]
