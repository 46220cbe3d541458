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
      x = max_pool_2x2(x)
    return x.reshape(x.shape[0], -1)


def max_pool_2x2(x: jnp.ndarray) -> jnp.ndarray:
  """2x2 max pooling, stride 2, as a max over a reshaped axis pair.

  Same values as `nn.max_pool(x, (2, 2), strides=(2, 2))` (odd edges are
  dropped alike). Its gradient is an elementwise mask that XLA fuses, where
  the reduce-window's gradient (select-and-scatter) lowers on XLA:CPU to
  iotas, a reduce-window and a scatter that took most of the digits step's
  time. Gradients differ only where two positive values of a window tie
  exactly (the mask shares the gradient among them; select-and-scatter gives
  it to the first); after a ReLU, ties at zero get no gradient either way.
  """
  n, h, w, c = x.shape
  x = x[:, :h - h % 2, :w - w % 2]
  return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
