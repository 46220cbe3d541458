"""The labelled target shots' loss, added to every method's loss by the step.

With `data.target_labeled_per_class = k > 0` each training batch also holds k
labelled target images per class (cycled); their mean cross-entropy is added
to the method's loss, so any method (DANN, MCC, ...) becomes its
semi-supervised variant, and source-only becomes S+T (tldomain/methods/s_plus_t.py).
"""

from tldomain.methods.base import LossInputs
from tldomain.methods.losses import accuracy, cross_entropy


def labeled_target_loss(inputs: LossInputs):
  """(CE of the labelled target outputs, metrics)."""
  logits, labels = inputs.target_labeled.logits, inputs.target_labeled_labels
  loss = cross_entropy(logits, labels)
  return loss, {"target_labeled_ce": loss,
                "target_labeled_accuracy": accuracy(logits, labels)}
