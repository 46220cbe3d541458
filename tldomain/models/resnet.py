"""ResNets in the torchvision v1.5 layout, so that PyTorch checkpoints load exactly.

Every family member is a row of `ARCHITECTURES`: ResNet-18 ... 152, ResNeXt,
Wide ResNet and timm's "-D" variants differ only in data (block type, depths,
groups, width, stem, shortcut). Padding is explicit everywhere: Flax's 'SAME'
pads strided convolutions and pools differently from PyTorch.

BatchNorm is models/batch_norm.py's (PyTorch's momentum, epsilon and unbiased running
variance), so a training step moves the statistics as PyTorch's would.
`dtype` is the compute dtype (`config.model.dtype`): convolutions run in it,
while parameters and BatchNorm statistics stay float32.
Module names follow torchvision's state-dict keys (`layer2_0/conv1` is
`layer2.0.conv1`), which keeps the converter's key table readable.
"""

import dataclasses
import flax.linen as nn
import jax
import jax.numpy as jnp

from tldomain.models.batch_norm import torch_batch_norm as batch_norm
from tldomain.registry import Registry


@dataclasses.dataclass(frozen=True)
class Architecture:
  """What distinguishes one ResNet from another; new variants are new rows."""
  block: str  # "basic": two 3x3 convs; "bottleneck": 1x1, 3x3 (strided), 1x1
  depths: tuple[int, ...]  # blocks per stage
  groups: int = 1  # grouped 3x3 convolution (ResNeXt's cardinality)
  width_per_group: int = 64  # bottleneck width = planes * width_per_group / 64 * groups
  stem: str = "7x7"  # "7x7": one 7x7/2 conv; "deep": three 3x3 convs (timm's -D)
  stem_width: int = 64  # deep stem: width of its first two convs, half its output
  avg_down: bool = False  # shortcut: 2x2 average pool then 1x1 conv (timm's -D)

  @property
  def expansion(self) -> int:
    return 4 if self.block == "bottleneck" else 1

  @property
  def num_features(self) -> int:
    return 64 * 2 ** (len(self.depths) - 1) * self.expansion

  @property
  def stem_features(self) -> int:
    return 2 * self.stem_width if self.stem == "deep" else 64

  def blocks(self):
    """(name, planes, stride, project) of every block in order: ("layer1_0", 64, 1, True)...

    `project`: whether the block's shortcut needs a projection (shape change).
    """
    in_features = self.stem_features
    for s, depth in enumerate(self.depths):
      planes = 64 * 2 ** s
      for b in range(depth):
        stride = 2 if s > 0 and b == 0 else 1
        project = b == 0 and (stride != 1 or in_features != planes * self.expansion)
        yield f"layer{s + 1}_{b}", planes, stride, project
        in_features = planes * self.expansion


ARCHITECTURES: Registry[Architecture] = Registry("ResNet architecture")
# torchvision.models.resnet: resnet18 ... wide_resnet101_2.
ARCHITECTURES.register("resnet18", Architecture("basic", (2, 2, 2, 2)))
ARCHITECTURES.register("resnet34", Architecture("basic", (3, 4, 6, 3)))
ARCHITECTURES.register("resnet50", Architecture("bottleneck", (3, 4, 6, 3)))
ARCHITECTURES.register("resnet101", Architecture("bottleneck", (3, 4, 23, 3)))
ARCHITECTURES.register("resnet152", Architecture("bottleneck", (3, 8, 36, 3)))
ARCHITECTURES.register("resnext50_32x4d", Architecture("bottleneck", (3, 4, 6, 3), 32, 4))
ARCHITECTURES.register("resnext101_32x8d", Architecture("bottleneck", (3, 4, 23, 3), 32, 8))
ARCHITECTURES.register("wide_resnet50_2", Architecture("bottleneck", (3, 4, 6, 3),
                                                       width_per_group=128))
ARCHITECTURES.register("wide_resnet101_2", Architecture("bottleneck", (3, 4, 23, 3),
                                                        width_per_group=128))
# timm.models.resnet: deep stem of width 32 and average-pool shortcuts.
ARCHITECTURES.register("resnet50d", Architecture("bottleneck", (3, 4, 6, 3), stem="deep",
                                                 stem_width=32, avg_down=True))


KERNEL_INIT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


class PointwiseConv(nn.Module):
  """A 1x1 convolution (no bias) as a matrix product over the channel axis.

  Same parameter ("kernel", (1, 1, C_in, features)) and values as `nn.Conv`;
  stride s keeps every s-th row and column, as PyTorch's padding-0 1x1 conv.
  XLA:CPU computes a convolution's weight gradient after copying the
  activations into a transposed layout, which took a third of the ResNet-50
  step; the matrix product's gradients (`pointwise`) need no such copy.
  """
  features: int
  stride: int = 1
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    kernel = self.param("kernel", KERNEL_INIT, (1, 1, x.shape[-1], self.features), jnp.float32)
    if self.stride > 1:
      x = x[:, ::self.stride, ::self.stride]
    return pointwise(x.astype(self.dtype), kernel[0, 0].astype(self.dtype))


@jax.custom_vjp
def pointwise(x: jnp.ndarray, kernel: jnp.ndarray) -> jnp.ndarray:
  """x @ kernel over the last axis of x (..., C_in) with kernel (C_in, C_out).

  The kernel's gradient is computed transposed, as dy^T x, and then turned:
  autodiff's x^T dy made XLA:CPU write dy (the BatchNorm gradient before it)
  out in a transposed layout, a strided pass over the largest activations that
  made up most of the 46 % of the ResNet-50 DANN step spent in BatchNorm (README, Benchmarks).
  """
  return jnp.dot(x, kernel)


def _pointwise_forward(x, kernel):
  return jnp.dot(x, kernel), (x, kernel)


def _pointwise_backward(residuals, dy):
  x, kernel = residuals
  rows = lambda a: a.reshape(-1, a.shape[-1])
  dkernel_t = jax.lax.dot_general(rows(dy), rows(x), (((0,), (0,)), ((), ())))
  return jnp.dot(dy, kernel.T), dkernel_t.T


pointwise.defvjp(_pointwise_forward, _pointwise_backward)


def conv(features: int, kernel: int, stride: int = 1, groups: int = 1,
         name: str | None = None, dtype=jnp.float32) -> nn.Module:
  """PyTorch's Conv2d(padding=kernel // 2, bias=False), He-normal (fan out) init."""
  if kernel == 1 and groups == 1:
    return PointwiseConv(features, stride, dtype, name=name)
  pad = kernel // 2
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride),
                 padding=((pad, pad), (pad, pad)), use_bias=False,
                 feature_group_count=groups, name=name, dtype=dtype, param_dtype=jnp.float32,
                 kernel_init=KERNEL_INIT)


def avg_pool_ceil(x: jnp.ndarray) -> jnp.ndarray:
  """AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False), as timm's shortcuts."""
  pad = [(0, x.shape[1] % 2), (0, x.shape[2] % 2)]
  return nn.avg_pool(x, (2, 2), strides=(2, 2), padding=pad, count_include_pad=False)


class Shortcut(nn.Module):
  """The projection on a block's identity path when its shape changes."""
  features: int
  stride: int
  avg_down: bool
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, bn_train: bool) -> jnp.ndarray:
    if self.avg_down:
      if self.stride != 1:
        x = avg_pool_ceil(x)
      x = conv(self.features, 1, name="conv", dtype=self.dtype)(x)
    else:
      x = conv(self.features, 1, self.stride, name="conv", dtype=self.dtype)(x)
    return batch_norm(bn_train, name="bn")(x)


class Block(nn.Module):
  """A residual block: basic (3x3, 3x3) or bottleneck (1x1, 3x3 with the stride, 1x1)."""
  arch: Architecture
  planes: int
  stride: int
  project: bool  # whether the shortcut needs a projection
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, bn_train: bool) -> jnp.ndarray:
    a = self.arch
    out_features = self.planes * a.expansion
    if a.block == "basic":
      convs = [(self.planes, 3, self.stride, 1), (out_features, 3, 1, 1)]
    else:
      width = self.planes * a.width_per_group // 64 * a.groups
      convs = [(width, 1, 1, 1), (width, 3, self.stride, a.groups), (out_features, 1, 1, 1)]
    y = x
    for i, (features, kernel, stride, groups) in enumerate(convs, start=1):
      y = conv(features, kernel, stride, groups, name=f"conv{i}", dtype=self.dtype)(y)
      y = batch_norm(bn_train, name=f"bn{i}")(y)
      if i < len(convs):
        y = nn.relu(y)
    if self.project:
      x = Shortcut(out_features, self.stride, a.avg_down, self.dtype,
                   name="downsample")(x, bn_train)
    return nn.relu(y + x)


class ResNet(nn.Module):
  """Images (N, H, W, 3) -> pooled features (N, num_features), and the stages on request.

  `freeze_bn` keeps BatchNorm on its running statistics even when `train` is
  True, the usual choice when fine-tuning on small batches.
  """
  arch: Architecture
  freeze_bn: bool = False
  return_stages: bool = False
  dtype: jnp.dtype = jnp.float32  # compute dtype; parameters and statistics are float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool,
               return_stages: bool | None = None) -> jnp.ndarray | tuple:
    a = self.arch
    bn_train = train and not self.freeze_bn
    if a.stem == "deep":
      for i, features in enumerate((a.stem_width, a.stem_width)):
        x = conv(features, 3, 2 if i == 0 else 1, name=f"stem_conv{i}", dtype=self.dtype)(x)
        x = nn.relu(batch_norm(bn_train, name=f"stem_bn{i}")(x))
      x = conv(2 * a.stem_width, 3, name="conv1", dtype=self.dtype)(x)
    elif a.stem == "7x7":
      x = conv(64, 7, 2, name="conv1", dtype=self.dtype)(x)
    else:
      raise ValueError(f"Unknown ResNet stem {a.stem!r}; valid: 7x7, deep.")
    x = nn.relu(batch_norm(bn_train, name="bn1")(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    stages = {}
    for name, planes, stride, project in a.blocks():
      x = Block(a, planes, stride, project, self.dtype, name=name)(x, bn_train)
      stages[name.split("_")[0]] = x  # ends as each stage's last output
    pooled = x.mean(axis=(1, 2))
    if return_stages if return_stages is not None else self.return_stages:
      return pooled, tuple(stages.values())
    return pooled


def build_resnet(name: str, freeze_bn: bool = False, return_stages: bool = False,
                 dtype=jnp.float32) -> ResNet:
  return ResNet(ARCHITECTURES.get(name), freeze_bn=freeze_bn, return_stages=return_stages,
                dtype=dtype)
