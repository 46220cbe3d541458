"""Small modules that sit on top of a backbone: bottleneck, classifier, discriminator.

Each has a `dtype` field, the dtype it computes in (`config.model.dtype`);
parameters are float32 whatever it is (tldomain/models/precision.py).
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

# PyTorch's BatchNorm momentum 0.1 is Flax's 0.9; epsilon as in PyTorch.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm(train: bool, name: str | None = None, dtype=jnp.float32) -> nn.BatchNorm:
  """Flax BatchNorm with PyTorch's settings; statistics and parameters float32.

  Flax reduces in float32 and keeps float32 running statistics whatever
  `dtype` is; only the normalised output is cast to `dtype`.
  """
  return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM,
                      epsilon=BN_EPSILON, dtype=dtype, param_dtype=jnp.float32, name=name)


class Bottleneck(nn.Module):
  """Dense -> BatchNorm -> ReLU, as in Transfer-Learning-Library's recipes."""
  features: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    x = nn.Dense(self.features, dtype=self.dtype, name="dense")(x)
    x = batch_norm(train, name="bn", dtype=self.dtype)(x)
    return nn.relu(x)


class IdentityBottleneck(nn.Module):
  """Used when the config sets bottleneck_dim=0: features pass through."""
  dtype: jnp.dtype = jnp.float32  # unused: nothing is computed

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    del train
    return x


class ClassifierHead(nn.Module):
  num_classes: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    del train
    return nn.Dense(self.num_classes, dtype=self.dtype, name="dense")(x)


class DomainDiscriminator(nn.Module):
  """MLP that scores features as source (logit > 0) or target (logit < 0).

  Hidden layers are Dense -> BatchNorm -> ReLU, as in Transfer-Learning-Library's
  `DomainDiscriminator(batch_norm=True)`; returns one logit per example.
  """
  hidden: Sequence[int] = (1024, 1024)
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    for i, width in enumerate(self.hidden):
      x = nn.Dense(width, dtype=self.dtype, name=f"dense{i}")(x)
      x = batch_norm(train, name=f"bn{i}", dtype=self.dtype)(x)
      x = nn.relu(x)
    return nn.Dense(1, dtype=self.dtype, name="logit")(x)[..., 0]
