"""TENT: test-time entropy minimisation (Wang et al., ICLR 2021).

Runs in `train.mode=test_time` from a finished run (`train.init_from`). One
pass over the target test stream: each batch is normalised with its own
BatchNorm statistics and predicted (that prediction is what the online
accuracy counts), then the mean prediction entropy of the batch takes one
optimiser step on the BatchNorm scales and shifts only; every other parameter
stays as trained. Adam at lr 1e-3 (the paper's CIFAR setting), batches of 128.
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import entropy
from tldomain.methods.registry import register


def tent_loss(inputs: LossInputs, hparams):
  del hparams
  loss = jnp.mean(entropy(jax.nn.softmax(inputs.target.logits.astype(jnp.float32))))
  return loss, {"target_entropy": loss}


register(Method(
    name="tent", loss=tent_loss, modes=("test_time",), config={"train.mode": "test_time"},
    defaults={"recompute_bn_statistics": False, "online_updates": True,
              "optimizer": "adam", "lr": 1e-3, "batch_size": 128}))
