"""Orbax checkpoints of the train state, keeping the latest and the best.

"Best" is ranked by a metric the config names (by default source validation
accuracy, which uses no target labels). Orbax writes each checkpoint to a
temporary folder and renames it when complete, so a checkpoint that was being
written when the process died is never restored.
"""

from typing import Any, Mapping

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies


class Checkpointer:
  """Saves every N steps into `directory`; keeps the latest and the best."""

  def __init__(self, directory: str, best_metric: str, best_mode: str = "max"):
    if best_mode not in ("max", "min"):
      raise ValueError(f"best_mode must be 'max' or 'min', not {best_mode!r}.")
    self.best_metric = best_metric
    rank = lambda metrics: metrics[best_metric]
    options = ocp.CheckpointManagerOptions(
        create=True,
        best_fn=rank,
        best_mode=best_mode,
        preservation_policy=policies.AnyPreservationPolicy([
            policies.LatestN(n=1),
            policies.BestN(get_metric_fn=rank, reverse=best_mode == "min", n=1,
                           keep_checkpoints_without_metrics=False),
        ]),
    )
    self._manager = ocp.CheckpointManager(directory, options=options)

  @property
  def directory(self) -> str:
    return str(self._manager.directory)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def best_step(self) -> int | None:
    return self._manager.best_step()

  def all_steps(self) -> list[int]:
    return list(self._manager.all_steps())

  def metrics(self, step: int) -> dict[str, float] | None:
    """The evaluation metrics saved with `step`, if any."""
    return self._manager.metrics(step)

  def save(self, step: int, state: Any, metrics: Mapping[str, float] | None = None) -> None:
    if metrics is not None and self.best_metric not in metrics:
      raise KeyError(f"checkpoint.best_metric {self.best_metric!r} is not among the "
                     f"evaluation metrics: {', '.join(sorted(metrics))}.")
    self._manager.save(step, args=ocp.args.StandardSave(state),
                       metrics=dict(metrics) if metrics is not None else None,
                       force=True)

  def restore(self, step: int, like: Any) -> Any:
    """Restores `step` into the shapes, dtypes and shardings of the pytree `like`."""
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.close()
