"""Source only: supervised fine-tuning on the labelled source domain."""

from tldomain.methods.base import LossInputs, Method
from tldomain.methods.losses import accuracy, cross_entropy
from tldomain.methods.registry import register


def source_only_loss(inputs: LossInputs, hparams):
  del hparams
  loss = cross_entropy(inputs.source.logits, inputs.labels)
  return loss, {"source_ce": loss,
                "source_accuracy": accuracy(inputs.source.logits, inputs.labels)}


# train.mode=distill trains a student with a source_only config (its own loss).
register(Method(name="source_only", loss=source_only_loss, uses_target=False,
                modes=("finetune", "features", "distill")))
