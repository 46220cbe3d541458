"""Importance weighting: source examples weighted by p_t(x) / p_s(x).

A domain classifier d on the (held-constant) bottleneck features learns source
(1) vs target (0); with equal batch sizes its logit estimates log p_s(f)/p_t(f),
so w = exp(-logit) estimates the density ratio (Bickel et al. 2009; Sugiyama et
al. 2012). Weights are clipped to [0, max_weight], normalised to average one
over the source batch and held constant; the classifier loss is the weighted
source cross-entropy.
"""

import jax
import jax.numpy as jnp
import optax

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, binary_cross_entropy, loss_dtype
from tldomain.methods.registry import register
from tldomain.models import DomainDiscriminator


def importance_weights(domain_logits: jax.Array, max_weight: float) -> jax.Array:
  """exp(-logit) clipped to [0, max_weight], normalised to mean one."""
  w = jnp.minimum(jnp.exp(-loss_dtype(domain_logits)), max_weight)
  return w / jnp.mean(w)


def importance_weighting_loss(inputs: LossInputs, hparams):
  n_source = inputs.source.features.shape[0]
  features = jax.lax.stop_gradient(
      jnp.concatenate([inputs.source.features, inputs.target.features]))
  domain_logits = inputs.apply("domain_classifier", features)
  source_logits, target_logits = domain_logits[:n_source], domain_logits[n_source:]
  domain_loss = 0.5 * (binary_cross_entropy(source_logits, jnp.ones_like(source_logits)) +
                       binary_cross_entropy(target_logits, jnp.zeros_like(target_logits)))
  weights = jax.lax.stop_gradient(importance_weights(source_logits, hparams.max_weight))
  per_example = optax.softmax_cross_entropy_with_integer_labels(
      loss_dtype(inputs.source.logits), inputs.labels)
  weighted_ce = jnp.mean(weights * per_example)
  return weighted_ce + domain_loss, {
      "weighted_source_ce": weighted_ce, "domain_loss": domain_loss,
      "max_importance_weight": jnp.max(weights),
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(
    name="importance_weighting", loss=importance_weighting_loss,
    defaults={"max_weight": 10.0, "discriminator_hidden": (1024, 1024)},
    modules=lambda hp: {"domain_classifier": DomainDiscriminator(tuple(hp.discriminator_hidden))}))
