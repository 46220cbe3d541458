"""S+T: supervised training on the labelled source and the labelled target shots.

The baseline of semi-supervised domain adaptation (Saito et al., ICCV 2019,
Sec. 4): cross-entropy on source images plus cross-entropy on the k labelled
target images per class (`data.target_labeled_per_class`); no unlabelled
target image is used. The target term is the one the step adds to every
method (tldomain/methods/labeled_target.py); this method declares it needs it.
"""

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy
from tldomain.methods.registry import register


def s_plus_t_loss(inputs: LossInputs, hparams):
  del hparams
  loss = cross_entropy(inputs.source.logits, inputs.labels)
  return loss, {"source_ce": loss,
                "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


register(Method(name="s_plus_t", loss=s_plus_t_loss, uses_target=False,
                modes=("finetune", "features"), needs_target_labels=True))
