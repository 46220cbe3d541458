"""Small modules that sit on top of a backbone: bottleneck, classifier, discriminator.

Each has a `dtype` field, the dtype it computes in (`config.model.dtype`);
parameters are float32 whatever it is (tldomain/models/precision.py).
"""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from tldomain.models.batch_norm import BN_EPSILON, BN_MOMENTUM, BatchNorm


def batch_norm(train: bool, name: str | None = None, dtype=jnp.float32) -> BatchNorm:
  """BatchNorm with PyTorch's momentum and epsilon, tracking the biased variance as Flax.

  Statistics and parameters are float32 whatever `dtype` is; only the
  normalised output is cast to `dtype`.
  """
  return BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                   unbiased_running_var=False, dtype=dtype, name=name)


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
