"""JAN: joint MMD over features and softmax outputs (Long et al., ICML 2017).

The joint kernel is the product of a multi-kernel Gaussian on the bottleneck
features (bandwidths 2^k mean d^2, k = -3..1) and a Gaussian of fixed
bandwidth 0.92 on the softmax outputs, as in Transfer-Learning-Library's JAN.
`estimator` as for MMD (tldomain/methods/kernels.py): "quadratic" (unbiased,
the default), "linear", "tllib_quadratic" (TLL's JAN default, used by the
Office/VisDA recipes) or "tllib_linear".
"""

import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.kernels import (check_same_size, fixed_gaussian_kernel,
                                      mmd_from_kernel, multi_gaussian_kernel)
from tldomain.methods.losses import accuracy, cross_entropy, loss_dtype
from tldomain.methods.registry import register


def joint_mmd(source_features, target_features, source_probs, target_probs,
              output_sigma: float = 0.92, estimator: str = "quadratic"):
  n = check_same_size(source_features, target_features)
  kernel = (multi_gaussian_kernel(jnp.concatenate([source_features, target_features])) *
            fixed_gaussian_kernel(jnp.concatenate([source_probs, target_probs]), output_sigma))
  return mmd_from_kernel(kernel, n, estimator)


def jan_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  jmmd = joint_mmd(inputs.source.features, inputs.target.features,
                   jax.nn.softmax(loss_dtype(inputs.source.logits)),
                   jax.nn.softmax(loss_dtype(inputs.target.logits)),
                   hparams.output_sigma, hparams.estimator)
  return ce + hparams.trade_off * jmmd, {
      "source_ce": ce, "jmmd": jmmd,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="jan", loss=jan_loss,
                defaults={"trade_off": 1.0, "estimator": "quadratic", "output_sigma": 0.92}))
