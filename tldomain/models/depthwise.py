"""Depthwise convolution written as k x k shifted multiply-adds.

Same parameters and values as `nn.Conv(C, (k, k), feature_group_count=C,
padding="SAME", use_bias=False)` (kernel (k, k, 1, C)), computed differently:
XLA:CPU lowers a grouped convolution with one channel per group to a slow
generic loop, and its gradients to slower ones still. As k * k elementwise
products of strided slices the forward pass and both gradients are plain
fusible elementwise work. On this project's 2-core CPU, batch 8, the Lite0
layers ran 4-30x faster forward and 4-14x faster forward + backward
(scripts/bench_depthwise.py measures it). On GPU, XLA fuses the same ops.

Exported graphs want the opposite: TFLite converts the k * k slices and
products op by op (Lite0: 220 SLICE, 305 MUL, 281 ADD), slow and awkward to
quantise, but has a depthwise convolution kernel. Inside
`with grouped_convolution():` the module computes the grouped convolution
itself, which TFLite turns into DEPTHWISE_CONV_2D; tldomain/export.py traces
the classifier that way. Same parameters, same values up to rounding.
"""

import contextlib
import contextvars
from typing import Callable, Iterator

import flax.linen as nn
import jax.numpy as jnp
from jax import lax


_GROUPED = contextvars.ContextVar("tldomain_depthwise_grouped", default=False)


@contextlib.contextmanager
def grouped_convolution() -> Iterator[None]:
  """DepthwiseConv traced inside computes a grouped convolution (for export)."""
  token = _GROUPED.set(True)
  try:
    yield
  finally:
    _GROUPED.reset(token)


def same_padding(size: int, kernel: int, stride: int) -> tuple[tuple[int, int], int]:
  """TF/Flax "SAME": ((before, after), output size); the odd pixel goes after."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return (total // 2, total - total // 2), out


def depthwise_conv(x: jnp.ndarray, kernel: jnp.ndarray, stride: int) -> jnp.ndarray:
  """x (N, H, W, C) with kernel (k, k, 1, C), "SAME" padding, no bias."""
  k = kernel.shape[0]
  n, h, w, c = x.shape
  pad_h, out_h = same_padding(h, k, stride)
  pad_w, out_w = same_padding(w, k, stride)
  x = jnp.pad(x, ((0, 0), pad_h, pad_w, (0, 0)))
  out = None
  for i in range(k):
    for j in range(k):
      window = lax.slice(x, (0, i, j, 0),
                         (n, i + stride * (out_h - 1) + 1, j + stride * (out_w - 1) + 1, c),
                         (1, stride, stride, 1))
      term = window * kernel[i, j, 0]
      out = term if out is None else out + term
  return out


class DepthwiseConv(nn.Module):
  """Drop-in for the grouped `nn.Conv` above: same parameter name and shape."""
  kernel_size: int
  stride: int = 1
  dtype: jnp.dtype = jnp.float32
  kernel_init: Callable = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    channels = x.shape[-1]
    kernel = self.param("kernel", self.kernel_init,
                        (self.kernel_size, self.kernel_size, 1, channels), jnp.float32)
    x, kernel = x.astype(self.dtype), kernel.astype(self.dtype)
    if _GROUPED.get():
      return lax.conv_general_dilated(
          x, kernel, (self.stride, self.stride), "SAME",
          dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=channels)
    return depthwise_conv(x, kernel, self.stride)
