"""Gradient reversal layer (Ganin & Lempitsky, 2015)."""

import jax
import jax.numpy as jnp


@jax.custom_vjp
def reverse_gradient(x: jax.Array, coeff: jax.Array | float) -> jax.Array:
  """Identity on the forward pass; multiplies the incoming gradient by -coeff."""
  del coeff
  return x


def _forward(x, coeff):
  return x, jnp.asarray(coeff, jnp.float32)


def _backward(coeff, g):
  # coeff is a schedule value, not something to train: its cotangent is zero.
  return jax.tree.map(lambda t: (-coeff * t).astype(t.dtype), g), jnp.zeros_like(coeff)


reverse_gradient.defvjp(_forward, _backward)
