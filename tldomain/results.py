"""What every trainer writes to its workdir at the end: `results.json`."""

import os
import time
from typing import Any

from absl import logging
import ml_collections

from tldomain import selection
from tldomain.metrics import dumps


def write_json(path: str, value: Any) -> None:
  """Writes `value` to `path` atomically (a temporary file renamed into place), as
  strict JSON: a NaN or infinite value is written as null."""
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(dumps(value, indent=2, sort_keys=True))
  os.replace(tmp, path)


def finish(config: ml_collections.ConfigDict, workdir: str, outcome, checkpointer,
           evaluations, start_step: int, num_devices: int, wall_start: float,
           write: bool, **extra: Any) -> dict | None:
  """Closes the checkpointer and writes `results.json` (when `write`).

  Returns the results, or None when the loop stopped before the last step
  (`train.stop_at_step` or SIGTERM) after saving a checkpoint. `extra` adds
  mode-specific keys to the results every mode shares.
  """
  total_steps = config.train.steps
  if outcome.step < total_steps:
    checkpointer.close()
    reason = "SIGTERM was received" if outcome.preempted else "train.stop_at_step asks"
    logging.warning("Stopped after step %d of %d as %s; the checkpoint is saved. Start "
                    "the same command again to resume.", outcome.step, total_steps, reason)
    return None
  best_step = checkpointer.best_step()
  best = {"step": best_step, "criterion": config.checkpoint.best_metric,
          **(checkpointer.metrics(best_step) or {})}
  checkpointer.close()
  last_eval = outcome.last_eval
  results = {
      "method": config.method.name,
      "mode": config.train.mode,
      "source": config.data.source,
      "target": config.data.target,
      "backbone": config.model.backbone,
      "pretrained": config.model.pretrained,
      "seed": config.seed,
      "steps": total_steps,
      # Accuracy of the final parameters; no target label chose anything.
      "target_test_accuracy": last_eval["target_test_accuracy"],
      "target_test_class_mean_accuracy": last_eval["target_test_class_mean_accuracy"],
      # None where the mode reads no source data (source_free, test_time).
      "source_val_accuracy": last_eval.get("source_val_accuracy"),
      "best_checkpoint": best,
      # Per evaluation: the oracle (target_test_accuracy) and the label-free
      # criteria; and the target accuracy of the step each criterion picks.
      "evaluations": evaluations.records,
      "selected": selection.selections(evaluations.records),
      "resumed_from_step": start_step,
      "num_devices": num_devices,
      "wall_seconds": time.time() - wall_start,
      **extra,
  }
  if write:
    write_json(os.path.join(workdir, "results.json"), results)
  return results
