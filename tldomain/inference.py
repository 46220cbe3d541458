"""A finished (or checkpointed) run, restored from its workdir for analysis."""

import json
import os

import jax
import ml_collections
import numpy as np

from tldomain import compute, data, defaults, run_data, sharding
from tldomain.checkpoint import Checkpointer
from tldomain.methods import get_method


def with_defaults(base: dict, saved: dict) -> dict:
  """`saved`, with any key it lacks taken from `base` (recursively)."""
  merged = dict(base)
  for key, value in saved.items():
    both = isinstance(value, dict) and isinstance(base.get(key), dict)
    merged[key] = with_defaults(base[key], value) if both else value
  return merged


class RestoredRun:
  """The model of a run at one of its checkpoints, with the run's own data splits.

  `outputs(split_name, n)` gives the features and logits of the first `n`
  examples of a fixed random order of that split (see run_data.subset).
  """

  def __init__(self, workdir: str, step: int | None = None):
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
      raise FileNotFoundError(f"{workdir} holds no config.json: not a tldomain run's workdir.")
    with open(path, encoding="utf-8") as f:
      # Fields added to the defaults after the run was made take their defaults.
      self.config = ml_collections.ConfigDict(
          with_defaults(defaults.base_config().to_dict(), json.load(f)))
    method = get_method(self.config.method.name)
    self.data = run_data.RunData(self.config.data, uses_target=True,
                                 selection_examples=self.config.selection.num_examples,
                                 seed=self.config.seed)
    self.mesh = sharding.make_mesh()
    compiled = compute.compile_steps(self.config, method, self.data.num_classes, self.mesh)
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"),
                                self.config.checkpoint.best_metric,
                                self.config.checkpoint.best_mode)
    self.step = checkpointer.latest_step() if step is None else step
    if self.step is None:
      raise FileNotFoundError(f"{workdir} holds no checkpoint to restore.")
    self.state = checkpointer.restore(self.step, compiled.initial_state)
    checkpointer.close()
    self._predict = compiled.predict_step

  def outputs(self, split: str, size: int) -> dict[str, np.ndarray]:
    """{features, logits, label} of `size` fixed random examples of a split.

    `split`: source_train, source_val, target_train or target_test.
    """
    splits = {"source_train": self.data.source_train, "source_val": self.data.source_val,
              "target_train": self.data.target_train, "target_test": self.data.target_test}
    if split not in splits:
      raise ValueError(f"Unknown split {split!r}; valid: {', '.join(splits)}.")
    chosen: data.Split = run_data.subset(splits[split], size)
    return run_data.predict_split(self._predict, self.state, chosen, self.config.data, self.mesh)
