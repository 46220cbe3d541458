"""The training loop every trainer runs: steps, logging, evaluation, checkpoints, stops.

A trainer supplies the compiled step, its batches, an `evaluate(state)` and
the writers; the loop does the rest the same way for every mode: it logs
means of the step metrics, evaluates and checkpoints every `eval_every`
steps, stops with `NonFiniteLossError` on a NaN or infinite loss, and saves
and returns early on `stop_at_step` or SIGTERM.
"""

import dataclasses
import signal
import threading
import time
from typing import Any, Callable, Iterator

import jax
import numpy as np
import tqdm


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or infinite; the run stops without saving."""


class PreemptionNotice:
  """Turns SIGTERM (a scheduler's preemption notice) into a flag the loop checks.

  The loop then saves a checkpoint of the current step and returns, instead of
  dying mid-step. Only installed from the main thread, where Python allows it.
  """

  def __init__(self):
    self.received = False
    self._previous = None

  def _handle(self, signum, frame):
    del signum, frame
    self.received = True

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
    return False


class LossMonitor:
  """Holds the per-step losses on device and checks them in one transfer.

  Checking every step would sync host and device each step; checking when
  logging or saving still names the first bad step exactly.
  """

  def __init__(self):
    self._pending: list[tuple[int, jax.Array]] = []

  def add(self, step: int, loss: jax.Array) -> None:
    self._pending.append((step, loss))

  def check(self, last_good_checkpoint: str) -> None:
    values = jax.device_get([loss for _, loss in self._pending])
    for (step, _), value in zip(self._pending, values):
      if not np.isfinite(value):
        raise NonFiniteLossError(
            f"The training loss is {value} at step {step}; stopping. The last good "
            f"checkpoint is kept ({last_good_checkpoint}) and nothing after it was "
            "saved. Lower the learning rate or the method's trade-off and start again.")
    self._pending.clear()


@dataclasses.dataclass
class LoopSchedule:
  """When the loop logs, evaluates and stops (the `train` config's fields)."""
  total_steps: int
  log_every: int
  eval_every: int
  stop_at_step: int = -1  # > 0: save and return after this step
  progress_bar: bool = True

  @classmethod
  def from_config(cls, train_config) -> "LoopSchedule":
    return cls(total_steps=train_config.steps, log_every=train_config.log_every,
               eval_every=train_config.eval_every, stop_at_step=train_config.stop_at_step,
               progress_bar=train_config.progress_bar)

  @property
  def stop_at(self) -> int:
    stop = self.stop_at_step if self.stop_at_step > 0 else self.total_steps
    return min(stop, self.total_steps)


@dataclasses.dataclass
class LoopOutcome:
  state: Any
  step: int  # the last step trained
  last_eval: dict[str, float]  # the final model's evaluation when step == total_steps
  preempted: bool  # SIGTERM was received


def train_loop(state, start_step: int, train_step: Callable, batches: Iterator,
               evaluate: Callable[[Any], dict[str, float]], checkpointer, writer,
               evaluations, schedule: LoopSchedule, images_per_step: int,
               name: str, show_progress: bool) -> LoopOutcome:
  """Trains from `start_step` to `schedule.stop_at`; see the module docstring."""
  monitor = LossMonitor()
  total_steps, stop_at = schedule.total_steps, schedule.stop_at
  progress = tqdm.tqdm(total=total_steps, initial=start_step, desc=name,
                       disable=not (show_progress and schedule.progress_bar),
                       dynamic_ncols=True)
  last_eval: dict[str, float] = {}
  step_metrics: list[dict] = []
  tick, tick_step = time.time(), start_step
  last_saved = f"step {start_step}" if start_step else "none: no checkpoint was written yet"

  def save(step: int, metrics: dict | None) -> None:
    nonlocal last_saved
    monitor.check(last_saved)
    if step not in checkpointer.all_steps():
      checkpointer.save(step, state, metrics)
    last_saved = f"step {step} in {checkpointer.directory}"

  step = start_step
  with PreemptionNotice() as preemption:
    try:
      while step < stop_at and not preemption.received:
        step += 1
        state, metrics = train_step(state, next(batches))
        monitor.add(step, metrics["loss"])
        step_metrics.append(metrics)
        progress.update(1)

        if step % schedule.log_every == 0 or step == stop_at:
          monitor.check(last_saved)
          fetched = jax.device_get(step_metrics)
          means = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
          now = time.time()
          means["images_per_second"] = images_per_step * (step - tick_step) / (now - tick)
          tick, tick_step, step_metrics = now, step, []
          writer.write(step, {f"train/{k}": v for k, v in means.items()})
          progress.set_postfix(loss=f"{means['loss']:.3f}",
                               img_s=f"{means['images_per_second']:.0f}")

        if step % schedule.eval_every == 0 or step == total_steps:
          monitor.check(last_saved)  # a non-finite state is never evaluated
          last_eval = evaluate(state)
          evaluations.add(step, last_eval)
          writer.write(step, {f"eval/{k}": v for k, v in last_eval.items()})
          save(step, last_eval)
      if step < total_steps:  # stop_at_step or SIGTERM: save where we are
        save(step, None)
      elif not last_eval:  # restarted on a finished run: nothing to train, report again
        last_eval = evaluate(state)
    finally:
      progress.close()
      checkpointer.wait()
      writer.close()
  return LoopOutcome(state, step, last_eval, preemption.received)
