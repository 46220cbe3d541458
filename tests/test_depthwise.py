"""models/depthwise.py against XLA's grouped convolution: values and both gradients."""

import jax
import jax.numpy as jnp
from jax import lax
import numpy as np
import pytest

from tldomain.models import depthwise


def grouped(x, kernel, stride):
  return lax.conv_general_dilated(x, kernel, (stride, stride), "SAME",
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  feature_group_count=x.shape[-1],
                                  precision=lax.Precision.HIGHEST)


# Both kernels and strides on odd and even sizes, and maps smaller than the kernel.
@pytest.mark.parametrize("kernel_size,stride,height,width", [
    (3, 1, 7, 9), (3, 2, 8, 5), (5, 1, 8, 5), (5, 2, 7, 9), (5, 2, 2, 3), (3, 2, 3, 2)])
def test_values_and_gradients_match_grouped_conv(kernel_size, stride, height, width):
  rng = np.random.RandomState(kernel_size * 100 + stride * 10 + height)
  x = jnp.asarray(rng.randn(2, height, width, 3), jnp.float32)
  kernel = jnp.asarray(rng.randn(kernel_size, kernel_size, 1, 3), jnp.float32)
  g = jnp.asarray(rng.randn(2, -(-height // stride), -(-width // stride), 3), jnp.float32)

  @jax.jit
  def values_and_gradients(x, kernel, g):
    out = {}
    for name, f in (("want", grouped), ("got", depthwise.depthwise_conv)):
      y, vjp = jax.vjp(lambda a, b, f=f: f(a, b, stride), x, kernel)
      out[name] = (y, *vjp(g))
    return out

  out = values_and_gradients(x, kernel, g)
  for got_grad, want_grad in zip(out["got"], out["want"]):
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-5, atol=1e-5)


def test_both_kernel_gradient_orders_agree(monkeypatch):
  """The row-first reduction (large maps) gives the same kernel gradient."""
  rng = np.random.RandomState(0)
  x = jnp.asarray(rng.randn(2, 9, 7, 4), jnp.float32)
  kernel = jnp.asarray(rng.randn(3, 3, 1, 4), jnp.float32)
  loss = jax.jit(jax.grad(lambda b: jnp.sum(jnp.sin(depthwise.depthwise_conv(x, b, 2)))))
  small = loss(kernel)
  monkeypatch.setattr(depthwise, "ROW_FIRST_ELEMENTS", 0)
  row_first = jax.jit(jax.grad(lambda b: jnp.sum(jnp.sin(depthwise.depthwise_conv(x, b, 2)))))
  np.testing.assert_allclose(row_first(kernel), small, rtol=1e-5, atol=1e-5)
  want = jax.grad(lambda b: jnp.sum(jnp.sin(grouped(x, b, 2))))(kernel)
  np.testing.assert_allclose(small, want, rtol=1e-5, atol=1e-5)


def test_bfloat16_gradients_keep_dtypes():
  x = jnp.ones((1, 5, 5, 2), jnp.bfloat16)
  kernel = jnp.ones((3, 3, 1, 2), jnp.bfloat16)
  dx, dk = jax.grad(lambda a, b: jnp.sum(depthwise.depthwise_conv(a, b, 1).astype(jnp.float32)),
                    argnums=(0, 1))(x, kernel)
  assert dx.dtype == jnp.bfloat16 and dk.dtype == jnp.bfloat16
  # Interior pixels see all 9 taps; the kernel's centre sees all 25 pixels.
  assert float(dx[0, 2, 2, 0]) == 9.0 and float(dk[1, 1, 0, 0]) == 25.0
