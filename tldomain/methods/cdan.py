"""CDAN and CDAN+E: conditional adversarial domain adaptation (Long et al., NeurIPS 2018).

The discriminator sees the multilinear map of features f and softmax outputs g:
the flattened outer product f (x) g, or, when that exceeds `max_multilinear_dim`
(4096) entries, the randomised map (R_f f) * (R_g g) / sqrt(d_out) with fixed
Gaussian R_f, R_g (paper Sec. 3.2). CDAN+E (`entropy_conditioning=True`) weights
each example by w = 1 + exp(-H(g)), normalised to sum to the batch size.
g is held constant for the conditioning, as in Transfer-Learning-Library.
"""

import jax
import jax.numpy as jnp
import optax

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.dann import dann_coefficient
from tldomain.methods.losses import accuracy, cross_entropy, entropy, loss_dtype
from tldomain.methods.registry import register
from tldomain.models import DomainDiscriminator, reverse_gradient


def multilinear_map(features: jax.Array, probs: jax.Array, max_dim: int = 4096,
                    random_dim: int = 1024, seed: int = 0) -> jax.Array:
  """f (x) g flattened to (batch, d * C), or its randomised version of width random_dim."""
  d, c = features.shape[-1], probs.shape[-1]
  if d * c <= max_dim:
    return (features[:, :, None] * probs[:, None, :]).reshape(features.shape[0], d * c)
  # Fixed random projections: the same matrices at every step, no state to save.
  key_f, key_g = jax.random.split(jax.random.key(seed))
  r_f = jax.random.normal(key_f, (d, random_dim), features.dtype)
  r_g = jax.random.normal(key_g, (c, random_dim), probs.dtype)
  return (features @ r_f) * (probs @ r_g) / jnp.sqrt(float(random_dim))


def entropy_weights(probs: jax.Array) -> jax.Array:
  """1 + exp(-H(g)), normalised to sum to the number of examples."""
  w = 1.0 + jnp.exp(-entropy(probs))
  return w / jnp.sum(w) * w.shape[0]


def cdan_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  n_source = inputs.source.features.shape[0]
  features = jnp.concatenate([inputs.source.features, inputs.target.features])
  logits = loss_dtype(jnp.concatenate([inputs.source.logits, inputs.target.logits]))
  probs = jax.lax.stop_gradient(jax.nn.softmax(logits))
  h = multilinear_map(features, probs, hparams.max_multilinear_dim,
                      hparams.random_dim, hparams.random_seed)
  coeff = dann_coefficient(inputs.progress, hparams.grl_gamma)
  domain_logits = inputs.apply("discriminator", reverse_gradient(h, coeff))
  domain_labels = jnp.concatenate([jnp.ones(n_source), jnp.zeros(features.shape[0] - n_source)])
  domain_logits = loss_dtype(domain_logits)
  per_example = optax.sigmoid_binary_cross_entropy(domain_logits,
                                                   domain_labels.astype(domain_logits.dtype))
  if hparams.entropy_conditioning:
    weights = jax.lax.stop_gradient(entropy_weights(probs))
  else:
    weights = jnp.ones_like(per_example)
  domain_loss = jnp.mean(weights * per_example)
  domain_accuracy = jnp.mean((domain_logits > 0) == (domain_labels > 0.5))
  return ce + hparams.trade_off * domain_loss, {
      "source_ce": ce, "domain_loss": domain_loss, "domain_accuracy": domain_accuracy,
      "grl_coefficient": coeff,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


def _defaults(entropy_conditioning: bool) -> dict:
  return {"trade_off": 1.0, "grl_gamma": 10.0, "entropy_conditioning": entropy_conditioning,
          "max_multilinear_dim": 4096, "random_dim": 1024, "random_seed": 0,
          "discriminator_hidden": (1024, 1024)}


def _modules(hparams):
  return {"discriminator": DomainDiscriminator(tuple(hparams.discriminator_hidden))}


register(Method(name="cdan", loss=cdan_loss, defaults=_defaults(False), modules=_modules))
register(Method(name="cdan_e", loss=cdan_loss, defaults=_defaults(True), modules=_modules))
