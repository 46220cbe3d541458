"""AdaBN: adaptive batch normalisation (Li et al., 2016, arXiv:1603.04779).

Runs in `train.mode=test_time` from a finished run (`train.init_from`): every
BatchNorm layer's statistics are replaced by those of the target domain,
pooled over one pass of the unlabelled target train images; no parameter
changes and no gradient step is taken (the loss below is never minimised:
`online_updates` is False).
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import entropy
from tldomain.methods.registry import register


def adabn_loss(inputs: LossInputs, hparams):
  """Zero: AdaBN takes no gradient step. The target entropy is reported."""
  del hparams
  target_entropy = jnp.mean(entropy(jax.nn.softmax(inputs.target.logits)))
  return jnp.zeros((), jnp.float32), {"target_entropy": target_entropy}


register(Method(
    name="adabn", loss=adabn_loss, modes=("test_time",), config={"train.mode": "test_time"},
    defaults={"recompute_bn_statistics": True, "online_updates": False}))
