"""The trainer: state, compiled steps over a device mesh, evaluation, checkpoints.

It runs any registered method: the method supplies the loss and any extra
modules, the trainer does everything else the same way for all of them.
"""

import json
import os
import time
import zlib
from typing import Any, Callable, Iterator, NamedTuple

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from tldomain import data, models, optim, sharding, warm_start
from tldomain.checkpoint import Checkpointer
from tldomain.methods import Method, get_method
from tldomain.metrics import MetricWriter
from tldomain.steps import (TrainState, init_variables, make_eval_step,
                            make_train_step)


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or infinite; the run stops without saving."""


def stream_seed(seed: int, name: str) -> int:
  """A seed per input stream, so source and target are shuffled independently."""
  return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def build_modules(config: ml_collections.ConfigDict, method: Method, num_classes: int):
  modules = models.build_classifier(config.model, num_classes)
  extra = method.modules(config.method)
  clash = sorted(set(extra) & set(modules))
  if clash:
    raise ValueError(f"Method {method.name!r} defines modules named {clash}, which "
                     f"the classifier uses; rename them.")
  return {**modules, **extra}


class RunData:
  """The splits a run reads: source train/val, target train (unlabelled) and test."""

  def __init__(self, config: ml_collections.ConfigDict, uses_target: bool):
    d = config.data
    kw = dict(data_dir=d.data_dir or None, manual_dir=d.manual_dir or None)
    source, target = data.DOMAINS.get(d.source), data.DOMAINS.get(d.target)
    self.source_train = data.load_split(source.name, d.source_train_split or source.train_split, **kw)
    self.source_val = data.load_split(source.name, d.source_val_split or source.test_split, **kw)
    self.target_test = data.load_split(target.name, d.target_test_split or target.test_split, **kw)
    self.target_train = (
        data.load_split(target.name, d.target_train_split or target.train_split, **kw)
        if uses_target else None)
    if self.source_train.num_classes != self.target_test.num_classes:
      raise ValueError(f"Source {source.name!r} has {self.source_train.num_classes} classes "
                       f"but target {target.name!r} has {self.target_test.num_classes}.")
    self.num_classes = self.source_train.num_classes
    self.eval_splits = {"source_val": self.source_val, "target_test": self.target_test}


def train_batches(config, run_data: RunData, start_step: int, mesh) -> Iterator[dict]:
  """Global batches {"source": {image, label}, "target": {image}} from `start_step` on."""
  d = config.data
  source = data.train_stream(run_data.source_train, d.batch_size,
                             stream_seed(config.seed, "source"), start_step,
                             d.train_transform, d.image_size)
  target = None
  if run_data.target_train is not None:
    target = data.train_stream(run_data.target_train, d.batch_size,
                               stream_seed(config.seed, "target"), start_step,
                               d.train_transform, d.image_size)
  while True:
    batch = {"source": next(source)}
    if target is not None:
      # Target labels never reach the step: the target train split is unlabelled.
      batch["target"] = {"image": next(target)["image"]}
    yield sharding.global_batch(batch, mesh)


def evaluate(eval_step, state: TrainState, run_data: RunData, config, mesh) -> dict[str, float]:
  results = {}
  for name, split in run_data.eval_splits.items():
    totals = None
    for batch in data.eval_batches(split, config.data.eval_batch_size,
                                   config.data.eval_transform, config.data.image_size):
      sums = eval_step(state, sharding.global_batch(batch, mesh))
      totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    totals = jax.device_get(totals)
    results[f"{name}_accuracy"] = float(totals["correct"] / totals["count"])
    results[f"{name}_loss"] = float(totals["loss"] / totals["count"])
  return results


def example_batch(image_shape: tuple[int, ...]) -> dict:
  """A two-image batch of zeros: enough to trace shapes through every module."""
  images = jnp.zeros((2, *image_shape), jnp.float32)
  return {"source": {"image": images, "label": jnp.zeros((2,), jnp.int32)},
          "target": {"image": images}}


def initial_state(config, modules, method, tx, image_shape, mesh) -> TrainState:
  """Freshly initialised parameters and optimizer state, replicated over the mesh."""

  def init(rng):
    params, stats = init_variables(modules, method, config.method,
                                   example_batch(image_shape), rng)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=stats, opt_state=tx.init(params))

  rng = jax.random.fold_in(jax.random.key(config.seed), 0)
  return jax.jit(init, out_shardings=sharding.replicated(mesh))(rng)


class CompiledSteps(NamedTuple):
  modules: dict[str, Any]
  tx: Any
  initial_state: TrainState
  train_step: Callable  # jitted (state, batch) -> (state, metrics); donates state
  eval_step: Callable  # jitted (state, batch) -> sums


def compile_steps(config, method: Method, num_classes: int, mesh) -> CompiledSteps:
  """Modules, optimizer, initial state and the jitted steps over `mesh`."""
  modules = build_modules(config, method, num_classes)
  image_shape = (config.data.image_size, config.data.image_size, 3)
  total_steps = config.train.steps
  # The optimizer's group labels need the parameter tree, not its values.
  params_shape, _ = jax.eval_shape(
      lambda: init_variables(modules, method, config.method, example_batch(image_shape),
                             jax.random.key(0)))
  tx = optim.build_optimizer(config.optim, params_shape, total_steps)
  state = initial_state(config, modules, method, tx, image_shape, mesh)
  state = warm_start.with_pretrained_backbone(config, state, tx, mesh)
  replicated, batch_sharded = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  schedule = optim.learning_rate_schedule(config.optim, total_steps)
  train_step = jax.jit(
      make_train_step(modules, method, config.method, tx, schedule, total_steps, config.seed),
      in_shardings=(replicated, batch_sharded), out_shardings=(replicated, replicated),
      donate_argnums=0)
  eval_step = jax.jit(make_eval_step(modules), in_shardings=(replicated, batch_sharded),
                      out_shardings=replicated)
  return CompiledSteps(modules, tx, state, train_step, eval_step)


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


def write_json(path: str, value: Any) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict | None:
  """Trains, evaluates and checkpoints in `workdir`; resumes if it holds a checkpoint.

  Returns the results (also written to `<workdir>/results.json`), or None when
  `train.stop_at_step` stopped the run early.
  """
  if config.train.get("mode", "finetune") != "finetune":
    from tldomain import features  # pylint: disable=g-import-not-at-top (it imports this)
    return features.run(config, workdir)
  wall_start = time.time()
  is_main = jax.process_index() == 0
  os.makedirs(workdir, exist_ok=True)
  method = get_method(config.method.name)
  total_steps = config.train.steps
  run_data = RunData(config, method.uses_target)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.data.batch_size, mesh)
  sharding.check_batch_size(config.data.eval_batch_size, mesh, "eval batch size")

  compiled = compile_steps(config, method, run_data.num_classes, mesh)
  state = compiled.initial_state

  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"),
                              config.checkpoint.best_metric, config.checkpoint.best_mode)
  start_step = checkpointer.latest_step()
  if start_step is not None:
    logging.info("Resuming from the checkpoint at step %d in %s.", start_step,
                 checkpointer.directory)
    state = checkpointer.restore(start_step, state)
  start_step = int(jax.device_get(state.step))

  if is_main:
    with open(os.path.join(workdir, "config.json"), "w", encoding="utf-8") as f:
      f.write(config.to_json_best_effort(indent=2))

  train_step, eval_step = compiled.train_step, compiled.eval_step
  writer = MetricWriter(workdir, enabled=is_main)
  monitor = LossMonitor()
  images_per_step = config.data.batch_size * (2 if method.uses_target else 1)
  stop_at = config.train.stop_at_step if config.train.stop_at_step > 0 else total_steps
  stop_at = min(stop_at, total_steps)
  batches = train_batches(config, run_data, start_step, mesh)
  progress = tqdm.tqdm(total=total_steps, initial=start_step, desc=method.name,
                       disable=not (is_main and config.train.progress_bar), dynamic_ncols=True)
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

  try:
    for step in range(start_step + 1, stop_at + 1):
      state, metrics = train_step(state, next(batches))
      monitor.add(step, metrics["loss"])
      step_metrics.append(metrics)
      progress.update(1)

      if step % config.train.log_every == 0 or step == stop_at:
        monitor.check(last_saved)
        fetched = jax.device_get(step_metrics)
        means = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
        now = time.time()
        means["images_per_second"] = images_per_step * (step - tick_step) / (now - tick)
        tick, tick_step, step_metrics = now, step, []
        writer.write(step, {f"train/{k}": v for k, v in means.items()})
        progress.set_postfix(loss=f"{means['loss']:.3f}",
                             img_s=f"{means['images_per_second']:.0f}")

      if step % config.train.eval_every == 0 or step == total_steps:
        last_eval = evaluate(eval_step, state, run_data, config, mesh)
        writer.write(step, {f"eval/{k}": v for k, v in last_eval.items()})
        save(step, last_eval)
    if stop_at < total_steps:
      save(stop_at, None)
    elif not last_eval:  # restarted on a finished run: nothing to train, report again
      last_eval = evaluate(eval_step, state, run_data, config, mesh)
  finally:
    progress.close()
    checkpointer.wait()
    writer.close()

  if stop_at < total_steps:
    checkpointer.close()
    logging.info("Stopped after step %d of %d as train.stop_at_step asks; start the "
                 "same command again to resume.", stop_at, total_steps)
    return None

  best_step = checkpointer.best_step()
  best = {"step": best_step, "criterion": config.checkpoint.best_metric,
          **(checkpointer.metrics(best_step) or {})}
  checkpointer.close()
  results = {
      "method": method.name,
      "source": config.data.source,
      "target": config.data.target,
      "backbone": config.model.backbone,
      "seed": config.seed,
      "steps": total_steps,
      # Accuracy of the final parameters; no target label chose anything.
      "target_test_accuracy": last_eval["target_test_accuracy"],
      "source_val_accuracy": last_eval["source_val_accuracy"],
      "best_checkpoint": best,
      "resumed_from_step": start_step,
      "num_devices": mesh.size,
      "wall_seconds": time.time() - wall_start,
  }
  if is_main:
    write_json(os.path.join(workdir, "results.json"), results)
  return results
