"""FDA's objectives (Yang & Soatto, CVPR 2020), for training on FDA images.

The FDA images come from the input pipeline: set data.fda_beta > 0
(configs/digits.py's `fda` and `fda_entropy` recipes do).

`fda`: cross-entropy on the (FDA) source images.
`fda_entropy`: CE(source) + trade_off * mean rho(H(target)), where H is the prediction
entropy normalised by log(num_classes) and rho(x) = (x^2 + 1e-8)^eta the
Charbonnier penalty with eta = 2 (the authors' code; weight 0.005 there), which
penalises confident predictions less than uncertain ones.
"""

import math

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy, entropy, loss_dtype
from tldomain.methods.registry import register


def charbonnier_entropy(logits: jax.Array, eta: float) -> jax.Array:
  """mean over examples of ((H / log K)^2 + 1e-8)^eta."""
  logits = loss_dtype(logits)
  normalised = entropy(jax.nn.softmax(logits)) / math.log(logits.shape[-1])
  return jnp.mean((normalised ** 2 + 1e-8) ** eta)


def fda_entropy_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  ent = charbonnier_entropy(inputs.target.logits, hparams.eta)
  return ce + hparams.trade_off * ent, {
      "source_ce": ce, "target_entropy_penalty": ent,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


def fda_loss(inputs: LossInputs, hparams):
  del hparams
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  return ce, {"source_ce": ce, "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="fda", loss=fda_loss, uses_target=False))
register(Method(name="fda_entropy", loss=fda_entropy_loss,
                defaults={"trade_off": 0.005, "eta": 2.0}))
