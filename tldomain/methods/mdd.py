"""MDD: margin disparity discrepancy (Zhang et al., ICML 2019).

An adversarial head h' reads the features through gradient reversal. With the
main head's predictions y_s, y_t taken as labels, the disparity is

  D = -margin * CE(h'(f_s), y_s) + mean log(1 - softmax(h'(f_t))[y_t]),

and the loss CE - trade_off * D trains h' to agree with the main head on the
source and to disagree on the target, while the reversed gradient drives the
features to make that impossible. Margin 4 and a reversal coefficient rising to
0.1 follow Transfer-Learning-Library's MDD recipe.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.dann import dann_coefficient
from tldomain.methods.losses import accuracy, cross_entropy, loss_dtype
from tldomain.methods.registry import register
from tldomain.models import reverse_gradient


class AdversarialHead(nn.Module):
  """h': a classifier head whose width is given at call time."""
  dtype: jnp.dtype = jnp.float32  # compute dtype, set from model.dtype by the trainer

  @nn.compact
  def __call__(self, x, train: bool, num_classes: int):
    del train
    return nn.Dense(num_classes, dtype=self.dtype, name="dense")(x)


def margin_disparity(source_logits, source_adv_logits, target_logits, target_adv_logits,
                     margin: float) -> jax.Array:
  source_pred = jnp.argmax(source_logits, axis=-1)
  target_pred = jnp.argmax(target_logits, axis=-1)
  source_term = cross_entropy(source_adv_logits, source_pred)
  target_probs = jax.nn.softmax(loss_dtype(target_adv_logits))
  p = jnp.take_along_axis(target_probs, target_pred[:, None], axis=-1)[:, 0]
  # log(1 - p), kept finite as p -> 1 (Transfer-Learning-Library's shift_log).
  target_term = jnp.mean(jnp.log(jnp.minimum(1.0 - p + 1e-6, 1.0)))
  return -margin * source_term + target_term


def mdd_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  n_source = inputs.source.features.shape[0]
  coeff = hparams.grl_max * dann_coefficient(inputs.progress, hparams.grl_gamma)
  features = jnp.concatenate([inputs.source.features, inputs.target.features])
  adv_logits = inputs.apply("adversarial_head", reverse_gradient(features, coeff),
                            num_classes=inputs.source.logits.shape[-1])
  disparity = margin_disparity(inputs.source.logits, adv_logits[:n_source],
                               inputs.target.logits, adv_logits[n_source:], hparams.margin)
  return ce - hparams.trade_off * disparity, {
      "source_ce": ce, "disparity": disparity, "grl_coefficient": coeff,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="mdd", loss=mdd_loss,
                defaults={"trade_off": 1.0, "margin": 4.0, "grl_max": 0.1, "grl_gamma": 10.0},
                modules=lambda hp: {"adversarial_head": AdversarialHead()}))
