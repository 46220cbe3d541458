"""Deep CORAL (Sun & Saenko, ECCV 2016 workshops).

loss = ||C_s - C_t||_F^2 / (4 d^2), C the covariance of a layer's activations
over the batch. The paper aligns the last layer (logits, `layer = "logits"`);
`layer = "features"` aligns the bottleneck instead.
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy
from tldomain.methods.registry import register


def covariance(x: jax.Array) -> jax.Array:
  """(X^T X - (1^T X)^T (1^T X) / n) / (n - 1), the paper's eq. (2)-(3)."""
  x = x.astype(jnp.float32)
  n = x.shape[0]
  column_sums = jnp.sum(x, axis=0, keepdims=True)
  return (x.T @ x - column_sums.T @ column_sums / n) / (n - 1)


def coral(source: jax.Array, target: jax.Array) -> jax.Array:
  d = source.shape[-1]
  return jnp.sum((covariance(source) - covariance(target)) ** 2) / (4.0 * d * d)


def coral_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  if hparams.layer not in ("logits", "features"):
    raise ValueError(f"coral.layer must be 'logits' or 'features', not {hparams.layer!r}.")
  source, target = getattr(inputs.source, hparams.layer), getattr(inputs.target, hparams.layer)
  distance = coral(source, target)
  return ce + hparams.trade_off * distance, {
      "source_ce": ce, "coral": distance,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="coral", loss=coral_loss,
                defaults={"trade_off": 1.0, "layer": "logits"}))
