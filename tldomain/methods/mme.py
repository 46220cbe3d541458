"""MME: minimax entropy (Saito et al., "Semi-supervised Domain Adaptation via
Minimax Entropy", ICCV 2019).

The classifier is cosine-similarity based (model.head = "cosine", temperature
T = 0.05): its weight vectors act as class prototypes. On unlabelled target
images the conditional entropy H = -mean_i sum_k p_ik log p_ik is maximised by
the classifier (moving prototypes towards the target features) and minimised
by the feature extractor (clustering target features around the prototypes),
through a gradient reversal layer between them (paper Eq. 5-6):

  loss = CE(source) + CE(labelled target) - lambda * H(head(reverse(f_t)))

Gradient descent on this loss gives the head d(-lambda H)/dW (entropy goes
up) and, through the reversal, the features d(+lambda H)/df (entropy goes
down). lambda = 0.1 as in the paper and the authors' code; their code takes
two optimiser steps per iteration (CE, then entropy), here one step on the sum.
The labelled target CE is added by the step (tldomain/methods/labeled_target.py).
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy, entropy
from tldomain.methods.registry import register
from tldomain.models import reverse_gradient


def minimax_entropy(inputs: LossInputs, coeff: float = 1.0) -> jax.Array:
  """H of the target predictions, computed with the head on reversed features."""
  logits = inputs.apply("head", reverse_gradient(inputs.target.features, coeff))
  return jnp.mean(entropy(jax.nn.softmax(logits)))


def mme_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  target_entropy = minimax_entropy(inputs)
  return ce - hparams.trade_off * target_entropy, {
      "source_ce": ce, "target_entropy": target_entropy,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="mme", loss=mme_loss, defaults={"trade_off": 0.1},
                modes=("finetune", "features"), needs_target_labels=True,
                config={"model.head": "cosine", "model.head_temperature": 0.05}))
