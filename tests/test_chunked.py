"""models/chunked.py: a layer on chunks of images gives the values and gradients of one call."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from tldomain.models.chunked import chunked


def test_chunks_match_one_call_including_a_short_last_chunk():
  x = jnp.asarray(np.random.RandomState(0).randn(7, 9, 9, 4), jnp.float32)
  layer = nn.Conv(5, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
  params = layer.init(jax.random.PRNGKey(0), x)

  def loss(params, x, chunk):
    return jnp.sum(jnp.sin(chunked(layer.bind(params), x, chunk)))

  for chunk in (3, 7):  # chunks of 3, 3 and 1; one call
    assert chunked(layer.bind(params), x, chunk).shape == (7, 5, 5, 5)
  got = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)(params, x, 3)
  want = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)(params, x, 7)
  np.testing.assert_allclose(chunked(layer.bind(params), x, 3), layer.apply(params, x),
                             rtol=1e-5, atol=1e-5)
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
