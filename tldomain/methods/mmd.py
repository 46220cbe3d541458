"""DAN: multi-kernel MMD between source and target features (Long et al., ICML 2015).

MMD^2 between the bottleneck features of the source and target halves of the
batch, with five Gaussian kernels of bandwidth 2^k times the mean pairwise
squared distance, k = -3..1. `estimator` (tldomain/methods/kernels.py):
"quadratic" (unbiased U-statistic), "linear" (the DAN paper's linear-time
statistic over n/2 disjoint pairs; the default), or Transfer-Learning-Library's
"tllib_linear" (its DAN default, used by the Office/VisDA recipes) and
"tllib_quadratic". The estimators differ in value and gradient scale, so a
trade-off tuned for one does not carry over to another.
"""

import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.kernels import check_same_size, mmd_from_kernel, multi_gaussian_kernel
from tldomain.methods.losses import accuracy, cross_entropy
from tldomain.methods.registry import register


def mk_mmd(source, target, estimator: str = "quadratic"):
  n = check_same_size(source, target)
  kernel = multi_gaussian_kernel(jnp.concatenate([source, target]))
  return mmd_from_kernel(kernel, n, estimator)


def mmd_loss(inputs: LossInputs, hparams):
  ce = cross_entropy(inputs.source.logits, inputs.labels)
  mmd = mk_mmd(inputs.source.features, inputs.target.features, hparams.estimator)
  return ce + hparams.trade_off * mmd, {
      "source_ce": ce, "mmd": mmd,
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="mmd", loss=mmd_loss,
                defaults={"trade_off": 1.0, "estimator": "linear"}))
