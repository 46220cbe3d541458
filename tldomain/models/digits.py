"""A small CNN for digit images (28x28 or 32x32), the usual digits backbone."""

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from tldomain.models.heads import batch_norm


class DigitsCNN(nn.Module):
  """Conv(5x5) -> BN -> ReLU -> MaxPool(2), twice, then flatten.

  The MNIST network of Ganin et al. (2016), with BatchNorm so that the batch
  statistics of both domains shape the features, as in the ResNets. Returns the
  flattened feature map (48*4*4 = 768 values for 28x28 inputs). `width` scales
  every layer's channels (`model.width`: 0.5 gives a distillation student about
  a quarter the size).
  """
  channels: Sequence[int] = (32, 48)
  width: float = 1.0
  dtype: jnp.dtype = jnp.float32  # compute dtype; parameters are float32

  @nn.compact
  def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
    for i, channels in enumerate(self.channels):
      width = max(1, round(channels * self.width))
      x = nn.Conv(width, (5, 5), padding="VALID", dtype=self.dtype, name=f"conv{i}")(x)
      x = batch_norm(train, name=f"bn{i}", dtype=self.dtype)(x)
      x = nn.relu(x)
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
    return x.reshape(x.shape[0], -1)
