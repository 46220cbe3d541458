"""models/batch_norm.py and resnet.pointwise: hand-written gradients equal autodiff's."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tldomain.models import batch_norm, resnet


def plain_normalize(x, scale, bias, epsilon):
  """The formula autodiff differentiates: what `normalize` must equal."""
  axes = tuple(range(x.ndim - 1))
  mean = x.mean(axes)
  var = jnp.square(x - mean).mean(axes)
  return (x - mean) * (jax.lax.rsqrt(var + epsilon) * scale) + bias, mean, var


@pytest.mark.parametrize("shape", [(4, 5, 6, 7), (9, 3)])
def test_normalize_values_and_gradients_equal_autodiff(shape):
  rng = np.random.RandomState(0)
  x = jnp.asarray(rng.randn(*shape) * 3 + 1, jnp.float32)
  scale, bias = (jnp.asarray(rng.rand(shape[-1]) + 0.5, jnp.float32) for _ in range(2))
  weights = jnp.asarray(rng.randn(*shape), jnp.float32)

  def loss(f):
    # Reads y and both statistics, so every cotangent of the backward is used.
    def value(x, scale, bias):
      y, mean, var = f(x, scale, bias, 1e-3)
      return jnp.sum(jnp.sin(y) * weights) + jnp.sum(mean ** 2) + jnp.sum(jnp.sqrt(var))
    return value

  for got, want in zip(batch_norm.normalize(x, scale, bias, 1e-3),
                       plain_normalize(x, scale, bias, 1e-3)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  got = jax.grad(loss(batch_norm.normalize), argnums=(0, 1, 2))(x, scale, bias)
  want = jax.grad(loss(plain_normalize), argnums=(0, 1, 2))(x, scale, bias)
  for name, g, w in zip(("x", "scale", "bias"), got, want):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, err_msg=name)


def test_normalize_keeps_bfloat16_activations():
  x = jnp.ones((4, 3, 3, 2), jnp.bfloat16) * jnp.arange(4, dtype=jnp.bfloat16)[:, None, None, None]
  y, mean, var = batch_norm.normalize(x, jnp.ones(2), jnp.zeros(2), 1e-5)
  dx = jax.grad(lambda x: jnp.sum(batch_norm.normalize(x, jnp.ones(2), jnp.zeros(2), 1e-5)[0]
                                  .astype(jnp.float32) * jnp.arange(4.)[:, None, None, None]))(x)
  assert (y.dtype, mean.dtype, var.dtype, dx.dtype) == (jnp.bfloat16, jnp.float32,
                                                         jnp.float32, jnp.bfloat16)


@pytest.mark.parametrize("unbiased", [True, False])
def test_running_statistics_follow_pytorch_or_flax(unbiased):
  x = jnp.asarray(np.random.RandomState(1).randn(6, 2, 2, 3) * 2 + 1, jnp.float32)
  ours = batch_norm.BatchNorm(use_running_average=False, unbiased_running_var=unbiased)
  variables = ours.init(jax.random.PRNGKey(0), x)
  y, updated = ours.apply(variables, x, mutable=["batch_stats"])
  n = x.size // 3
  var = np.var(np.asarray(x).reshape(-1, 3), axis=0) * (n / (n - 1) if unbiased else 1)
  np.testing.assert_allclose(updated["batch_stats"]["var"], 0.9 + 0.1 * var, rtol=1e-5)
  np.testing.assert_allclose(updated["batch_stats"]["mean"],
                             0.1 * np.asarray(x).reshape(-1, 3).mean(0), rtol=1e-5, atol=1e-7)
  if not unbiased:  # the flavour tldomain's heads use is Flax's BatchNorm
    flax_bn = nn.BatchNorm(use_running_average=False, momentum=0.9, epsilon=1e-5)
    flax_y, flax_updated = flax_bn.apply(variables, x, mutable=["batch_stats"])
    np.testing.assert_allclose(y, flax_y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(updated["batch_stats"]["var"], flax_updated["batch_stats"]["var"],
                               rtol=1e-5)
  inference = batch_norm.BatchNorm(use_running_average=True).apply({**variables, **updated}, x)
  stats = updated["batch_stats"]
  np.testing.assert_allclose(inference, (x - stats["mean"]) / np.sqrt(stats["var"] + 1e-5),
                             rtol=1e-5, atol=1e-5)


def test_pointwise_gradients_equal_autodiff():
  rng = np.random.RandomState(2)
  x = jnp.asarray(rng.randn(3, 4, 5, 6), jnp.float32)
  kernel = jnp.asarray(rng.randn(6, 7), jnp.float32)
  loss = lambda f: lambda x, k: jnp.sum(jnp.sin(f(x, k)))
  np.testing.assert_allclose(resnet.pointwise(x, kernel), jnp.dot(x, kernel), rtol=1e-5)
  got = jax.grad(loss(resnet.pointwise), argnums=(0, 1))(x, kernel)
  want = jax.grad(loss(jnp.dot), argnums=(0, 1))(x, kernel)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
