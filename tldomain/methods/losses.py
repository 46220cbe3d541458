"""Loss pieces shared by methods."""

import jax
import jax.numpy as jnp
import optax


def loss_dtype(x: jax.Array) -> jax.Array:
  """x in float32, or wider: bfloat16 outputs are reduced in float32, while
  float64 inputs (under jax.enable_x64, as the reference tests use) stay float64."""
  return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy, computed in float32 (or wider)."""
  logits = loss_dtype(logits)
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def binary_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Mean sigmoid cross-entropy of logits against 0/1 targets."""
  logits = loss_dtype(logits)
  return optax.sigmoid_binary_cross_entropy(logits, targets.astype(logits.dtype)).mean()


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  return (jnp.argmax(logits, axis=-1) == labels).mean()


def entropy(probs: jax.Array, axis: int = -1) -> jax.Array:
  """Shannon entropy -sum p log p per row, in nats (0 log 0 taken as 0)."""
  probs = loss_dtype(probs)
  return -jnp.sum(jnp.where(probs > 0, probs * jnp.log(jnp.where(probs > 0, probs, 1.0)), 0.0),
                  axis=axis)
