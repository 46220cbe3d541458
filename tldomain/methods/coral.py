"""Deep CORAL (Sun & Saenko, ECCV 2016 workshops).

variant "paper" (default): loss = ||C_s - C_t||_F^2 / (4 d^2), C the covariance
of a layer's activations over the batch.
variant "tllib": ||mu_s - mu_t||^2 / d + ||C_s - C_t||_F^2 / d^2, the means
aligned too, as Transfer-Learning-Library's `CorrelationAlignmentLoss` and
DomainBed's CORAL compute it. The two differ by a data-dependent factor (4.6-17
on random inputs), so their trade-offs are not comparable.
The paper aligns the last layer (logits, `layer = "logits"`);
`layer = "features"` aligns the bottleneck instead (TLL and DomainBed do).
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy, loss_dtype
from tldomain.methods.registry import register


def covariance(x: jax.Array) -> jax.Array:
  """(X^T X - (1^T X)^T (1^T X) / n) / (n - 1), the paper's eq. (2)-(3)."""
  x = loss_dtype(x)
  n = x.shape[0]
  column_sums = jnp.sum(x, axis=0, keepdims=True)
  return (x.T @ x - column_sums.T @ column_sums / n) / (n - 1)


VARIANTS = ("paper", "tllib")


def coral(source: jax.Array, target: jax.Array, variant: str = "paper") -> jax.Array:
  d = source.shape[-1]
  covariance_gap = jnp.sum((covariance(source) - covariance(target)) ** 2)
  if variant == "paper":
    return covariance_gap / (4.0 * d * d)
  if variant == "tllib":
    mean_gap = jnp.sum((jnp.mean(loss_dtype(source), 0) - jnp.mean(loss_dtype(target), 0)) ** 2)
    return mean_gap / d + covariance_gap / (d * d)
  raise ValueError(f"coral.variant must be one of {', '.join(VARIANTS)}, not {variant!r}.")


def coral_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  if hparams.layer not in ("logits", "features"):
    raise ValueError(f"coral.layer must be 'logits' or 'features', not {hparams.layer!r}.")
  source, target = getattr(inputs.source, hparams.layer), getattr(inputs.target, hparams.layer)
  distance = coral(source, target, hparams.variant)
  return ce + hparams.trade_off * distance, {
      "source_ce": ce, "coral": distance,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="coral", loss=coral_loss,
                defaults={"trade_off": 1.0, "layer": "logits", "variant": "paper"}))
