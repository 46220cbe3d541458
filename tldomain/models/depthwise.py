"""Depthwise convolution written as k x k shifted multiply-adds, with its own gradients.

Same parameters and values as `nn.Conv(C, (k, k), feature_group_count=C,
padding="SAME", use_bias=False)` (kernel (k, k, 1, C)), computed differently:
XLA:CPU lowers a grouped convolution with one channel per group to a slow
generic loop, and its gradients to slower ones still. Here every pass is
plain elementwise work over strided slices (scripts/bench_depthwise.py
measures each Lite0 layer against the grouped convolution):

- forward: the sum over the k*k taps of a strided window times one kernel row;
- input gradient: the same sum over the output gradient, dilated by the
  stride and padded (the transposed convolution), with the flipped kernel;
- kernel gradient: the k*k sums of window * output gradient as ONE variadic
  reduction, so XLA reads each window and the gradient once from cache
  instead of once per tap (k*k separate reductions are memory-bound: up to
  7x slower on the Lite0 layers at batch 16). Large maps reduce over W first (a row stays
  in cache), small ones over H and W at once (fewer partial sums).
On GPU, XLA fuses the same ops.

Exported graphs want the opposite: TFLite converts the k * k slices and
products op by op (Lite0: 220 SLICE, 305 MUL, 281 ADD), slow and awkward to
quantise, but has a depthwise convolution kernel. Inside
`with grouped_convolution():` the module computes the grouped convolution
itself, which TFLite turns into DEPTHWISE_CONV_2D; tldomain/export.py traces
the classifier that way. Same parameters, same values up to rounding.
"""

import contextlib
import contextvars
import functools
from typing import Callable, Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

# Output elements per image above which the kernel gradient reduces over W
# first (measured on the Lite0 layers: 112x112x32 3x faster, 28x28x240 1.3x slower).
ROW_FIRST_ELEMENTS = 1 << 18


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


def _taps(x: jnp.ndarray, k: int, stride: int, out_h: int, out_w: int):
  """(i, j, window): the strided (N, out_h, out_w, C) window of padded `x` under tap (i, j)."""
  n, _, _, c = x.shape
  for i in range(k):
    for j in range(k):
      yield i, j, lax.slice(x, (0, i, j, 0),
                            (n, i + stride * (out_h - 1) + 1, j + stride * (out_w - 1) + 1, c),
                            (1, stride, stride, 1))


def _padded(x: jnp.ndarray, k: int, stride: int):
  _, h, w, _ = x.shape
  pad_h, out_h = same_padding(h, k, stride)
  pad_w, out_w = same_padding(w, k, stride)
  return jnp.pad(x, ((0, 0), pad_h, pad_w, (0, 0))), out_h, out_w


def _forward(x: jnp.ndarray, kernel: jnp.ndarray, stride: int) -> jnp.ndarray:
  k = kernel.shape[0]
  xp, out_h, out_w = _padded(x, k, stride)
  out = None
  for i, j, window in _taps(xp, k, stride, out_h, out_w):
    term = window * kernel[i, j, 0]
    out = term if out is None else out + term
  return out


def _input_gradient(g: jnp.ndarray, kernel: jnp.ndarray, stride: int, shape) -> jnp.ndarray:
  """dx[r] = sum_i G[r + k - 1 - i] * kernel[i], G = g dilated by the stride and padded."""
  k = kernel.shape[0]
  _, h, w, _ = shape
  (top, _), out_h = same_padding(h, k, stride)
  (left, _), out_w = same_padding(w, k, stride)
  # G[t] = dilated g[t - (k - 1) + top]; long enough for r = h - 1, i = 0.
  dilated_h, dilated_w = (out_h - 1) * stride + 1, (out_w - 1) * stride + 1
  low_h, low_w = k - 1 - top, k - 1 - left
  big = lax.pad(g, jnp.zeros((), g.dtype),
                ((0, 0, 0), (low_h, h + k - 1 - low_h - dilated_h, stride - 1),
                 (low_w, w + k - 1 - low_w - dilated_w, stride - 1), (0, 0, 0)))
  dx = None
  for i, j, window in _taps(big, k, 1, h, w):
    term = window * kernel[k - 1 - i, k - 1 - j, 0]
    dx = term if dx is None else dx + term
  return dx


def _kernel_gradient(x: jnp.ndarray, g: jnp.ndarray, k: int, stride: int) -> jnp.ndarray:
  """dkernel[i, j, 0, c] = sum over N, H, W of window(i, j) * g, accumulated in float32."""
  xp, out_h, out_w = _padded(x, k, stride)
  g = g.astype(jnp.float32)
  products = [window.astype(jnp.float32) * g for _, _, window in _taps(xp, k, stride, out_h, out_w)]
  row_first = out_h * out_w * g.shape[-1] > ROW_FIRST_ELEMENTS
  sums = lax.reduce(products, [jnp.float32(0)] * len(products),
                    lambda a, b: tuple(p + q for p, q in zip(a, b)),
                    (2,) if row_first else (1, 2))
  partial = jnp.stack(sums)  # (k*k, N, [H,] C)
  return partial.sum(tuple(range(1, partial.ndim - 1))).reshape(k, k, 1, -1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def depthwise_conv(x: jnp.ndarray, kernel: jnp.ndarray, stride: int) -> jnp.ndarray:
  """x (N, H, W, C) with kernel (k, k, 1, C), "SAME" padding, no bias."""
  return _forward(x, kernel, stride)


def _depthwise_fwd(x, kernel, stride):
  return _forward(x, kernel, stride), (x, kernel)


def _depthwise_bwd(stride, residuals, g):
  x, kernel = residuals
  dx = _input_gradient(g, kernel, stride, x.shape).astype(x.dtype)
  dkernel = _kernel_gradient(x, g, kernel.shape[0], stride).astype(kernel.dtype)
  return dx, dkernel


depthwise_conv.defvjp(_depthwise_fwd, _depthwise_bwd)


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
