"""SHOT: source hypothesis transfer (Liang et al., ICML 2020), source-free.

Starts from a finished source-only run (`train.mode=source_free`,
`train.init_from=<its workdir>`) and reads no source data. The hypothesis
(the head) is frozen; the feature extractor (backbone and bottleneck) learns
on unlabelled target images with (paper Eq. 5-6, authors' `uda_digit.py`):

  L = L_ent - L_div + beta * CE(p, y_hat)
  L_ent = mean_i H(p_i)        (each prediction confident)
  L_div = H(mean_i p_i)        (predictions diverse over the batch)

y_hat are self-supervised pseudo-labels: class centroids in feature space
weighted by the predictions, each target image labelled by its nearest
centroid (cosine), twice (tldomain/pseudo_labels.py); the source-free trainer
recomputes them over the whole target train set at the start of each epoch
and hands them in as `inputs.target_pseudo_labels`. beta = 0.3 (the paper's
digits setting; `pseudo_label_weight`).
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import cross_entropy, entropy
from tldomain.methods.registry import register

# Selecting shot/shot_im makes the run source-free with the head frozen.
SOURCE_FREE_CONFIG = {"train.mode": "source_free", "optim.groups.head.frozen": True}


def information_maximization(logits: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(mean entropy of the predictions, entropy of their mean): L_ent and L_div."""
  probs = jax.nn.softmax(logits.astype(jnp.float32))
  return jnp.mean(entropy(probs)), entropy(jnp.mean(probs, axis=0))


def shot_loss(inputs: LossInputs, hparams):
  ent, div = information_maximization(inputs.target.logits)
  loss = ent - div
  metrics = {"target_entropy": ent, "target_diversity": div}
  if hparams.pseudo_label_weight > 0:
    if inputs.target_pseudo_labels is None:
      raise ValueError("shot's pseudo-label term needs target pseudo-labels, which the "
                       "source-free trainer computes: run it with train.mode=source_free.")
    pseudo = cross_entropy(inputs.target.logits, inputs.target_pseudo_labels)
    loss = loss + hparams.pseudo_label_weight * pseudo
    metrics["pseudo_label_ce"] = pseudo
  return loss, metrics


register(Method(name="shot", loss=shot_loss, defaults={"pseudo_label_weight": 0.3},
                modes=("source_free",), config=SOURCE_FREE_CONFIG))
