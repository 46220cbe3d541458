import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tldomain.models import reverse_gradient


@pytest.mark.parametrize("coeff", [0.0, 0.3, 1.0, 2.5])
def test_gradient_is_minus_coeff_times_incoming(coeff):
  x = jnp.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
  w = jnp.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])

  def head(y):  # a non-trivial function after the layer: d/dy = 2 w y + w
    return jnp.sum(w * y * y + w * y)

  incoming = jax.grad(head)(x)
  reversed_grad = jax.grad(lambda y: head(reverse_gradient(y, coeff)))(x)
  np.testing.assert_allclose(reversed_grad, -coeff * incoming, rtol=1e-6)
  np.testing.assert_array_equal(reverse_gradient(x, coeff), x)  # identity forward


def test_coefficient_gets_no_gradient_and_jit_works():
  x = jnp.ones((3,))
  dcoeff = jax.grad(lambda c: jnp.sum(reverse_gradient(x, c) ** 2))(0.7)
  assert dcoeff == 0.0
  g = jax.jit(jax.grad(lambda y: jnp.sum(reverse_gradient(y, 0.5) * 3.0)))(x)
  np.testing.assert_allclose(g, -1.5 * np.ones(3))
