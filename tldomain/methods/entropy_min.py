"""Entropy minimisation on target predictions (Grandvalet & Bengio, NeurIPS 2004).

loss = CE(source) + trade_off * mean H(softmax(target logits)). The default
weight 0.1 is our choice (the paper leaves it to validation).
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy, entropy, loss_dtype
from tldomain.methods.registry import register


def entropy_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  target_entropy = jnp.mean(entropy(jax.nn.softmax(loss_dtype(inputs.target.logits))))
  return ce + hparams.trade_off * target_entropy, {
      "source_ce": ce, "target_entropy": target_entropy,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="entropy", loss=entropy_loss, defaults={"trade_off": 0.1}))
