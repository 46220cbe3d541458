"""BatchNorm with PyTorch's exact semantics, for modules that load PyTorch weights.

Flax's nn.BatchNorm tracks the biased batch variance in its running average;
PyTorch's BatchNorm2d normalises with the biased variance but tracks the
unbiased one (n / (n - 1) larger). On a 7x7 map with batch 32 that is 0.06 %
per update, and more on small batches, so fine-tuning drifted from PyTorch's.
Variables are named as in nn.BatchNorm (scale, bias, mean, var).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from tldomain.models.heads import BN_EPSILON, BN_MOMENTUM


class TorchBatchNorm(nn.Module):
  """Normalises over all axes but the last; updates running stats when training."""
  use_running_average: bool
  momentum: float = BN_MOMENTUM  # Flax convention: new = momentum * old + (1 - momentum) * batch
  epsilon: float = BN_EPSILON

  @nn.compact
  def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
    features = x.shape[-1]
    ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
    ra_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
    scale = self.param("scale", nn.initializers.ones, (features,), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
    if self.use_running_average:
      mean, var = ra_mean.value, ra_var.value
    else:
      axes = tuple(range(x.ndim - 1))
      x32 = x.astype(jnp.float32)
      mean = x32.mean(axes)
      var = jnp.square(x32 - mean).mean(axes)  # two passes, as PyTorch
      if not self.is_initializing():
        n = x.size // features
        unbiased = var * (n / max(n - 1, 1))
        ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
        ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * unbiased
    y = (x - mean) * (jax.lax.rsqrt(var + self.epsilon) * scale) + bias
    return y.astype(x.dtype)


def torch_batch_norm(train: bool, name: str | None = None) -> TorchBatchNorm:
  return TorchBatchNorm(use_running_average=not train, name=name)
