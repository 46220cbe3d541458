"""One evaluation path for every trainer: predictions, accuracies, losses, selection criteria.

A trainer hands `predict` its jitted predict step and an iterator of host
batches {image, label, mask} (images from `data.eval_batches`, or cached
features from `array_batches`); `evaluation_record` turns the outputs of the
four evaluation splits into the record every mode writes to
`evaluations.jsonl`: accuracy, mean class accuracy and loss on source val and
target test, and the label-free selection criteria (tldomain/selection.py).
"""

import os
from typing import Iterable, Iterator, Mapping

import jax
import numpy as np
from scipy import special

from tldomain import selection, sharding
from tldomain.metrics import dumps, read_jsonl

# The outputs `evaluation_record` reads: name -> what it is.
EVAL_SPLITS = {
    "source_val": "held-out source data, labelled",
    "target_test": "target test data; its labels give the oracle",
    "selection_source": "a fixed subset of source train",
    "selection_target": "a fixed subset of target train, unlabelled",
}
# Source-free and test-time runs read no source data: they evaluate these only,
# and their records have no source accuracy and no DEV (which needs source data).
TARGET_SPLITS = ("target_test", "selection_target")


def array_batches(inputs: np.ndarray, labels: np.ndarray, global_batch: int
                  ) -> Iterator[dict[str, np.ndarray]]:
  """One in-order pass over arrays, as `data.eval_batches` makes of images.

  Each process gets its slice of every global batch; the last batch is padded
  and `mask` marks real examples.
  """
  count, index = jax.process_count(), jax.process_index()
  local = global_batch // count
  offset = index * local
  for start in range(0, len(labels), global_batch):
    positions = start + offset + np.arange(local)
    mask = positions < len(labels)
    take = np.minimum(positions, len(labels) - 1)
    yield {"image": inputs[take], "label": labels[take].astype(np.int32), "mask": mask}


def predict(predict_step, state, batches: Iterable[Mapping[str, np.ndarray]], mesh
            ) -> dict[str, np.ndarray]:
  """{features, logits, label} of every real example of `batches`, in order, on the host."""
  parts = []
  for batch in batches:
    out = jax.device_get(predict_step(state, sharding.global_batch(batch, mesh)))
    keep = out.pop("mask").astype(bool)
    parts.append({k: v[keep] for k, v in out.items()})
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """Per-example softmax cross-entropy, in float64."""
  logits = logits.astype(np.float64)
  return special.logsumexp(logits, axis=-1) - np.take_along_axis(
      logits, labels[:, None], axis=-1)[:, 0]


def evaluation_record(outputs: Mapping[str, Mapping[str, np.ndarray]],
                      snd_temperature: float) -> dict[str, float]:
  """Accuracy and loss on source val and target test, and the selection criteria.

  `outputs` holds {features, logits, label} for each of EVAL_SPLITS.
  `target_test_accuracy` reads target labels (the oracle); `target_entropy`,
  `snd` and `dev` read only unlabelled target data.
  """
  has_source = "source_val" in outputs
  missing = sorted(set(EVAL_SPLITS if has_source else TARGET_SPLITS) - set(outputs))
  if missing:
    raise KeyError(f"evaluation_record needs outputs for {', '.join(missing)}.")
  record, losses = {}, {}
  for name in ("source_val", "target_test") if has_source else ("target_test",):
    logits, labels = outputs[name]["logits"], outputs[name]["label"]
    losses[name] = cross_entropy(logits, labels)
    correct = np.argmax(logits, -1) == labels
    record[f"{name}_accuracy"] = float(np.mean(correct))
    # Mean of per-class accuracies: VisDA-2017's headline metric.
    record[f"{name}_class_mean_accuracy"] = float(np.mean(
        [correct[labels == c].mean() for c in np.unique(labels)]))
    record[f"{name}_loss"] = float(np.mean(losses[name]))
  if not has_source:
    target_logits = outputs["selection_target"]["logits"]
    record["target_entropy"] = selection.prediction_entropy(target_logits)
    record["snd"] = selection.soft_neighborhood_density(target_logits, snd_temperature)
    return record
  record.update(selection.label_free_criteria(
      source_train_features=outputs["selection_source"]["features"],
      source_val_features=outputs["source_val"]["features"],
      source_val_losses=losses["source_val"],
      target_features=outputs["selection_target"]["features"],
      target_logits=outputs["selection_target"]["logits"],
      snd_temperature=snd_temperature))
  return record


class EvaluationLog:
  """`<workdir>/evaluations.jsonl`: one record per evaluation, kept across restarts.

  On resume, records after the restored step (an evaluation whose checkpoint
  never completed) are dropped; they are recomputed when training gets there.
  """

  def __init__(self, workdir: str, start_step: int, enabled: bool):
    self.path = os.path.join(workdir, "evaluations.jsonl")
    self.enabled = enabled
    records = read_jsonl(self.path) if os.path.exists(self.path) else []
    self.records = [r for r in records if r["step"] <= start_step]
    if enabled:
      with open(self.path, "w", encoding="utf-8") as f:
        f.writelines(dumps(r) + "\n" for r in self.records)

  def add(self, step: int, record: dict[str, float]) -> None:
    self.records = [r for r in self.records if r["step"] != step] + [{"step": step, **record}]
    if self.enabled:
      with open(self.path, "a", encoding="utf-8") as f:
        f.write(dumps({"step": step, **record}) + "\n")
