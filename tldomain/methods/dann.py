"""DANN: domain-adversarial training (Ganin et al., JMLR 2016).

A domain discriminator learns to tell source features from target features; a
gradient reversal layer between features and discriminator makes the feature
extractor maximise the discriminator's loss. The reversal coefficient follows
lambda(p) = 2 / (1 + exp(-gamma p)) - 1 over training progress p (paper Sec. 5.2.2).
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, binary_cross_entropy, cross_entropy
from tldomain.methods.registry import register
from tldomain.models import DomainDiscriminator, reverse_gradient


def dann_coefficient(progress: jax.Array, gamma: float = 10.0) -> jax.Array:
  """2 / (1 + exp(-gamma p)) - 1: 0 at p=0, rising towards 1."""
  return 2.0 / (1.0 + jnp.exp(-gamma * progress)) - 1.0


def domain_adversarial_loss(inputs: LossInputs, coeff: jax.Array):
  """Discriminator loss on reversed features: source labelled 1, target 0.

  The source and target halves are weighted equally, as in
  Transfer-Learning-Library's `DomainAdversarialLoss`.
  """
  n_source = inputs.source.features.shape[0]
  features = jnp.concatenate([inputs.source.features, inputs.target.features])
  logits = inputs.apply("discriminator", reverse_gradient(features, coeff))
  source_logits, target_logits = logits[:n_source], logits[n_source:]
  loss = 0.5 * (binary_cross_entropy(source_logits, jnp.ones_like(source_logits)) +
                binary_cross_entropy(target_logits, jnp.zeros_like(target_logits)))
  domain_accuracy = 0.5 * ((source_logits > 0).mean() + (target_logits <= 0).mean())
  return loss, domain_accuracy


def dann_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  coeff = dann_coefficient(inputs.progress, hparams.grl_gamma)
  domain_loss, domain_accuracy = domain_adversarial_loss(inputs, coeff)
  total = ce + hparams.trade_off * domain_loss
  return total, {"source_ce": ce,
                 "source_accuracy": accuracy(inputs.source.logits, inputs.labels),
                 "domain_loss": domain_loss,
                 "domain_accuracy": domain_accuracy,
                 "grl_coefficient": coeff}


register(Method(
    name="dann",
    loss=dann_loss,
    defaults={"trade_off": 1.0, "grl_gamma": 10.0, "discriminator_hidden": (1024, 1024)},
    modules=lambda hp: {"discriminator": DomainDiscriminator(tuple(hp.discriminator_hidden))},
))
