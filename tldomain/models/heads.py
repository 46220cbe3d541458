"""Small modules that sit on top of a backbone: bottleneck, classifier, discriminator."""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

# PyTorch's BatchNorm momentum 0.1 is Flax's 0.9; epsilon as in PyTorch.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM,
                      epsilon=BN_EPSILON, name=name)


class Bottleneck(nn.Module):
  """Dense -> BatchNorm -> ReLU, as in Transfer-Learning-Library's recipes."""
  features: int

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    x = nn.Dense(self.features, name="dense")(x)
    x = batch_norm(train, name="bn")(x)
    return nn.relu(x)


class IdentityBottleneck(nn.Module):
  """Used when the config sets bottleneck_dim=0: features pass through."""

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    del train
    return x


class ClassifierHead(nn.Module):
  num_classes: int

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    del train
    return nn.Dense(self.num_classes, name="dense")(x)


class DomainDiscriminator(nn.Module):
  """MLP that scores features as source (logit > 0) or target (logit < 0).

  Hidden layers are Dense -> BatchNorm -> ReLU, as in Transfer-Learning-Library's
  `DomainDiscriminator(batch_norm=True)`; returns one logit per example.
  """
  hidden: Sequence[int] = (1024, 1024)

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    for i, width in enumerate(self.hidden):
      x = nn.Dense(width, name=f"dense{i}")(x)
      x = batch_norm(train, name=f"bn{i}")(x)
      x = nn.relu(x)
    return nn.Dense(1, name="logit")(x)[..., 0]
