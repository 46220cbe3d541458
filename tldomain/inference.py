"""A finished (or checkpointed) run, restored from its workdir for analysis."""

import os

import numpy as np

from tldomain import compute, data, init_from, run_data, saved_config, sharding
from tldomain.checkpoint import Checkpointer
from tldomain.methods import get_method


class RestoredRun:
  """The model of a run at one of its checkpoints, with the run's own data splits.

  `outputs(split_name, n)` gives the features and logits of the first `n`
  examples of a fixed random order of that split (see run_data.subset). A
  features-mode run is restored at its final step, with its frozen backbone.
  """

  def __init__(self, workdir: str, step: int | None = None):
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
      raise FileNotFoundError(f"{workdir} holds no config.json: not a tldomain run's workdir.")
    self.config = saved_config.load(workdir)
    method = get_method(self.config.method.name)
    self.data = run_data.RunData(self.config.data, uses_target=True,
                                 selection_examples=self.config.selection.num_examples,
                                 seed=self.config.seed)
    self.mesh = sharding.make_mesh()
    compiled = compute.compile_steps(self.config, method, self.data.num_classes, self.mesh)
    self._predict = compiled.predict_step
    if self.config.train.mode == "features":
      # Its checkpoints hold the bottleneck and head only: the image classifier
      # gets back the frozen backbone the features came from (final step).
      finished = init_from.load(workdir, self.config, self.data.num_classes)
      self.step, self.state = finished.step, init_from.with_weights(compiled, finished,
                                                                    self.mesh)
      return
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"),
                                self.config.checkpoint.best_metric,
                                self.config.checkpoint.best_mode)
    self.step = checkpointer.latest_step() if step is None else step
    if self.step is None:
      raise FileNotFoundError(f"{workdir} holds no checkpoint to restore.")
    self.state = checkpointer.restore(self.step, compiled.initial_state)
    checkpointer.close()

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
