"""MCC: minimum class confusion (Jin et al., ECCV 2020).

On the target batch: probabilities at temperature T (2.5), examples weighted by
1 + exp(-entropy) normalised to sum to the batch size, class confusion
C = (P * w)^T P with each row normalised to sum to one; the loss is the
off-diagonal mass sum(C) - trace(C) divided by the number of classes.
The weights are held constant for the gradient (`stop_gradient`), as in the
authors' code (Transfer-Learning-Library's `tllib/self_training/mcc.py`
detaches the entropy): they reweight examples, they are not a term to minimise.
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy, entropy, loss_dtype
from tldomain.methods.registry import register


def class_confusion(target_logits: jax.Array, temperature: float = 2.5) -> jax.Array:
  probs = jax.nn.softmax(loss_dtype(target_logits) / temperature)
  n, num_classes = probs.shape
  w = 1.0 + jnp.exp(-jax.lax.stop_gradient(entropy(probs)))
  w = n * w / jnp.sum(w)
  confusion = (probs * w[:, None]).T @ probs
  confusion = confusion / jnp.sum(confusion, axis=1, keepdims=True)
  return (jnp.sum(confusion) - jnp.trace(confusion)) / num_classes


def mcc_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  confusion = class_confusion(inputs.target.logits, hparams.temperature)
  return ce + hparams.trade_off * confusion, {
      "source_ce": ce, "class_confusion": confusion,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="mcc", loss=mcc_loss, defaults={"trade_off": 1.0, "temperature": 2.5}))
