"""BatchNorm with its training-mode gradient written out, in PyTorch's or Flax's flavour.

Two flavours differ only in the running variance they track. PyTorch's
BatchNorm2d normalises with the biased batch variance but tracks the unbiased
one (n / (n - 1) larger; on a 7x7 map with batch 32 that is 0.06 % per update,
more on small batches), which modules loading PyTorch weights need to fine-tune
as PyTorch does. Flax's nn.BatchNorm tracks the biased one; tldomain's own
heads and the digits CNN keep that. Variables are named as in nn.BatchNorm
(params scale, bias; batch_stats mean, var), so checkpoints of either load.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

# PyTorch's BatchNorm momentum 0.1 is Flax's 0.9; epsilon as in PyTorch.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def normalize(x, scale, bias, epsilon):
  """Batch statistics over all axes but the last, and x normalised with them.

  Returns (y, mean, var): y = (x - mean) / sqrt(var + epsilon) * scale + bias
  in x's dtype; mean and the biased variance (two passes, as PyTorch) in
  float32 (float64 for float64 x). The gradient is two per-channel sums and
  one elementwise pass. Autodiff of the same formula gave XLA:CPU a sum of
  several cotangents that it wrote out in a transposed layout for the next
  weight gradient: most of the 46 % of the ResNet-50 DANN step that the
  profile gave BatchNorm (README, Benchmarks).
  """
  return _forward(x, scale, bias, epsilon)[0]


def _forward(x, scale, bias, epsilon):
  axes = tuple(range(x.ndim - 1))
  x32 = x.astype(_statistics_dtype(x))
  mean = x32.mean(axes)
  centred = x32 - mean
  var = jnp.square(centred).mean(axes)
  inv_std = jax.lax.rsqrt(var + epsilon)
  y = (centred * (inv_std * scale) + bias).astype(x.dtype)
  return (y, mean, var), (x, mean, inv_std, scale)


def _backward(epsilon, residuals, cotangents):
  del epsilon
  x, mean, inv_std, scale = residuals
  dy, dmean, dvar = cotangents
  axes = tuple(range(x.ndim - 1))
  n = x.size // x.shape[-1]
  centred = x.astype(mean.dtype) - mean
  x_hat = centred * inv_std
  dy32 = dy.astype(mean.dtype)
  dbias = dy32.sum(axes)
  dscale = (dy32 * x_hat).sum(axes)
  dx = (scale * inv_std) * (dy32 - (dbias + x_hat * dscale) / n)
  # The statistics' own cotangents: zero unless a loss reads them.
  dx = dx + dmean / n + (2.0 / n) * dvar * centred
  return dx.astype(x.dtype), dscale, dbias


normalize.defvjp(_forward, _backward)


def _statistics_dtype(x: jnp.ndarray) -> jnp.dtype:
  """float32 for 16- and 32-bit activations; float64 ones (jax.enable_x64 tests) keep theirs."""
  return jnp.promote_types(x.dtype, jnp.float32)


class BatchNorm(nn.Module):
  """Normalises over all axes but the last; updates running stats when training."""
  use_running_average: bool
  momentum: float = BN_MOMENTUM  # Flax convention: new = momentum * old + (1 - momentum) * batch
  epsilon: float = BN_EPSILON
  unbiased_running_var: bool = True  # PyTorch's; False tracks the biased one, as Flax
  dtype: jnp.dtype | None = None  # output dtype; None keeps the input's

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    features = x.shape[-1]
    ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
    ra_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
    scale = self.param("scale", nn.initializers.ones, (features,), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
    dtype = self.dtype or x.dtype
    if self.use_running_average:
      inv_std = jax.lax.rsqrt(ra_var.value + self.epsilon)
      y = (x - ra_mean.value) * (inv_std * scale) + bias
      return y.astype(dtype)
    y, mean, var = normalize(x, scale, bias, self.epsilon)
    if not self.is_initializing():
      if self.unbiased_running_var:
        n = x.size // features
        var = var * (n / max(n - 1, 1))
      ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
      ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
    return y.astype(dtype)


def torch_batch_norm(train: bool, name: str | None = None) -> BatchNorm:
  """PyTorch's BatchNorm2d defaults, for modules that load PyTorch weights."""
  return BatchNorm(use_running_average=not train, name=name)
