"""A layer run on a few images at a time, for XLA:CPU's convolution gradients."""

import flax.linen as nn
import jax
import jax.numpy as jnp


def chunked(layer: nn.Module, x: jnp.ndarray, chunk: int) -> jnp.ndarray:
  """`layer(x)` as `layer` on `chunk` images at a time, concatenated (on CPU).

  Same parameters and values (up to rounding). Autodiff gives each chunk its
  own input and weight gradients, summed. XLA:CPU ran a convolution's weight
  gradient over a whole batch on one thread, after copying the activations
  into a transposed layout; on chunks the working set stays in cache and the
  independent chunks spread over the cores (README, Benchmarks). GPUs want
  the whole batch, so there the layer runs once; so it does over several
  devices, where the batch is sharded and cutting it would move shards
  between devices.
  """
  n = x.shape[0]
  # A symbolic batch size (an export for any batch) has no chunks to cut.
  if (not isinstance(n, int) or n <= chunk or jax.default_backend() != "cpu"
      or jax.device_count() > 1):
    return layer(x)
  return jnp.concatenate([layer(x[start:start + chunk]) for start in range(0, n, chunk)])
