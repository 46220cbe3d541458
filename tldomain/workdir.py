"""A run's workdir: created, its checkpoints opened and restored, its config written."""

import os
from typing import Any, NamedTuple

from absl import logging
import jax
import ml_collections

from tldomain import results
from tldomain.checkpoint import Checkpointer


class OpenedRun(NamedTuple):
  checkpointer: Checkpointer
  state: Any  # the restored state, or the initial one
  start_step: int  # 0 for a new run


def open_run(workdir: str, config: ml_collections.ConfigDict, initial_state: Any,
             write: bool) -> OpenedRun:
  """Opens `workdir/checkpoints`, restores the latest checkpoint into the shapes of
  `initial_state` if there is one, and writes `config.json` (when `write`)."""
  os.makedirs(workdir, exist_ok=True)
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"),
                              config.checkpoint.best_metric, config.checkpoint.best_mode)
  state = initial_state
  latest = checkpointer.latest_step()
  if latest is not None:
    logging.info("Resuming from the checkpoint at step %d in %s.", latest,
                 checkpointer.directory)
    state = checkpointer.restore(latest, state)
  if write:
    results.write_config(workdir, config)
  return OpenedRun(checkpointer, state, int(jax.device_get(state.step)))
