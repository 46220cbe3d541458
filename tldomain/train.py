"""The trainer: state, compiled steps over a device mesh, evaluation, checkpoints.

It runs any registered method: the method supplies the loss and any extra
modules, the trainer does everything else the same way for all of them.
"""

import json
import os
import signal
import threading
import time
import zlib
from typing import Any, Callable, Iterator, NamedTuple

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from scipy import special

from tldomain import data, models, optim, selection, sharding, warm_start
from tldomain.checkpoint import Checkpointer
from tldomain.methods import Method, get_method
from tldomain.metrics import MetricWriter, read_jsonl
from tldomain.steps import (TrainState, init_variables, make_predict_step,
                            make_train_step)


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or infinite; the run stops without saving."""


def stream_seed(seed: int, name: str) -> int:
  """A seed per input stream, so source and target are shuffled independently."""
  return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def build_modules(config: ml_collections.ConfigDict, method: Method, num_classes: int):
  """The classifier's and the method's modules, all computing in `config.model.dtype`."""
  modules = models.build_classifier(config.model, num_classes)
  extra = models.with_dtype(method.modules(config.method), models.compute_dtype(config.model))
  clash = sorted(set(extra) & set(modules))
  if clash:
    raise ValueError(f"Method {method.name!r} defines modules named {clash}, which "
                     f"the classifier uses; rename them.")
  return {**modules, **extra}


def check_same_classes(source: data.Split, target: data.Split) -> None:
  """Source and target must share one class index, names included where known."""
  if source.num_classes != target.num_classes:
    raise ValueError(f"Source {source.domain!r} has {source.num_classes} classes but target "
                     f"{target.domain!r} has {target.num_classes}.")
  generic = lambda names: not names or all(n.isdigit() for n in names)
  if not (generic(source.class_names) or generic(target.class_names)) and (
      source.class_names != target.class_names):
    differ = [f"{i}: {a!r} vs {b!r}" for i, (a, b) in
              enumerate(zip(source.class_names, target.class_names)) if a != b]
    raise ValueError(f"Source {source.domain!r} and target {target.domain!r} name their "
                     f"classes differently, so labels would not line up: {'; '.join(differ[:10])}"
                     + (" ..." if len(differ) > 10 else ""))


def subset(split: data.Split, size: int, unlabelled: bool = False) -> data.Split:
  """A fixed random `size` examples of `split` (all if it is smaller), labels hidden if asked."""
  if len(split) > size:
    split = split.take(np.sort(np.random.default_rng(0).permutation(len(split))[:size]))
  return split.hide_labels() if unlabelled else split


class RunData:
  """The splits a run reads: source train/val, target train (unlabelled) and test.

  Evaluation also reads fixed subsets of source train and (unlabelled) target
  train, on which the label-free selection criteria are computed.
  """

  def __init__(self, config: ml_collections.ConfigDict, uses_target: bool):
    d = config.data
    kw = dict(data_dir=d.data_dir or None, manual_dir=d.manual_dir or None)
    source, target = data.DOMAINS.get(d.source), data.DOMAINS.get(d.target)
    loaded: dict[tuple[str, str], data.Split] = {}

    def load(domain: data.Domain, split: str) -> data.Split:
      if (domain.name, split) not in loaded:  # a split used twice is read once
        loaded[domain.name, split] = data.load_split(domain.name, split, **kw)
      return loaded[domain.name, split]

    self.source_train = load(source, d.source_train_split or source.train_split)
    self.source_val = load(source, d.source_val_split or source.test_split)
    self.target_test = load(target, d.target_test_split or target.test_split)
    target_train = load(target, d.target_train_split or target.train_split)
    self.target_train = target_train if uses_target else None
    check_same_classes(self.source_train, self.target_test)
    self.num_classes = self.source_train.num_classes
    size = config.selection.num_examples
    self.eval_splits = {
        "source_val": self.source_val, "target_test": self.target_test,
        "selection_source": subset(self.source_train, size),
        "selection_target": subset(target_train, size, unlabelled=True)}


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


def predict(predict_step, state: TrainState, split: data.Split, config, mesh
            ) -> dict[str, np.ndarray]:
  """{features, logits, label} of every example of `split`, in order, on the host."""
  parts = []
  for batch in data.eval_batches(split, config.data.eval_batch_size,
                                 config.data.eval_transform, config.data.image_size):
    out = jax.device_get(predict_step(state, sharding.global_batch(batch, mesh)))
    keep = out.pop("mask").astype(bool)
    parts.append({k: v[keep] for k, v in out.items()})
  return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  logits = logits.astype(np.float64)
  return special.logsumexp(logits, axis=-1) - np.take_along_axis(
      logits, labels[:, None], axis=-1)[:, 0]


def evaluate(predict_step, state: TrainState, run_data: RunData, config, mesh
             ) -> dict[str, float]:
  """Accuracy and loss on source val and target test, and the selection criteria.

  `target_test_accuracy` reads target labels (the oracle); `target_entropy`,
  `snd` and `dev` read only unlabelled target images (tldomain/selection.py).
  """
  out = {name: predict(predict_step, state, split, config, mesh)
         for name, split in run_data.eval_splits.items()}
  record, losses = {}, {}
  for name in ("source_val", "target_test"):
    logits, labels = out[name]["logits"], out[name]["label"]
    losses[name] = cross_entropy(logits, labels)
    correct = np.argmax(logits, -1) == labels
    record[f"{name}_accuracy"] = float(np.mean(correct))
    # Mean of per-class accuracies: VisDA-2017's headline metric.
    record[f"{name}_class_mean_accuracy"] = float(np.mean(
        [correct[labels == c].mean() for c in np.unique(labels)]))
    record[f"{name}_loss"] = float(np.mean(losses[name]))
  record.update(selection.label_free_criteria(
      source_train_features=out["selection_source"]["features"],
      source_val_features=out["source_val"]["features"],
      source_val_losses=losses["source_val"],
      target_features=out["selection_target"]["features"],
      target_logits=out["selection_target"]["logits"],
      snd_temperature=config.selection.snd_temperature))
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
        f.writelines(json.dumps(r) + "\n" for r in self.records)

  def add(self, step: int, record: dict[str, float]) -> None:
    self.records = [r for r in self.records if r["step"] != step] + [{"step": step, **record}]
    if self.enabled:
      with open(self.path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, **record}) + "\n")


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
  predict_step: Callable  # jitted (state, batch) -> {features, logits, label, mask}


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
  predict = make_predict_step(modules)
  # Outputs replicated: every process gets all examples' outputs for the metrics.
  predict_step = jax.jit(
      lambda state, batch: {**predict(state, batch["image"]),
                            "label": batch["label"], "mask": batch["mask"]},
      in_shardings=(replicated, batch_sharded), out_shardings=replicated)
  return CompiledSteps(modules, tx, state, train_step, predict_step)


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


def write_json(path: str, value: Any) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict | None:
  """Trains, evaluates and checkpoints in `workdir`; resumes if it holds a checkpoint.

  Returns the results (also written to `<workdir>/results.json`), or None when
  the run stopped early (`train.stop_at_step`, or SIGTERM: a preemption notice)
  after saving a checkpoint of the step it had reached.
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

  train_step, predict_step = compiled.train_step, compiled.predict_step
  writer = MetricWriter(workdir, enabled=is_main)
  evaluations = EvaluationLog(workdir, start_step, enabled=is_main)
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

  step = start_step
  with PreemptionNotice() as preemption:
    try:
      while step < stop_at and not preemption.received:
        step += 1
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
          last_eval = evaluate(predict_step, state, run_data, config, mesh)
          evaluations.add(step, last_eval)
          writer.write(step, {f"eval/{k}": v for k, v in last_eval.items()})
          save(step, last_eval)
      if step < total_steps:  # stop_at_step or SIGTERM: save where we are
        save(step, None)
      elif not last_eval:  # restarted on a finished run: nothing to train, report again
        last_eval = evaluate(predict_step, state, run_data, config, mesh)
    finally:
      progress.close()
      checkpointer.wait()
      writer.close()

  if step < total_steps:
    checkpointer.close()
    reason = "SIGTERM was received" if preemption.received else "train.stop_at_step asks"
    logging.warning("Stopped after step %d of %d as %s; the checkpoint is saved. Start "
                    "the same command again to resume.", step, total_steps, reason)
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
      "target_test_class_mean_accuracy": last_eval["target_test_class_mean_accuracy"],
      "source_val_accuracy": last_eval["source_val_accuracy"],
      "best_checkpoint": best,
      # Per evaluation: the oracle (target_test_accuracy) and the label-free
      # criteria; and the target accuracy of the step each criterion picks.
      "evaluations": evaluations.records,
      "selected": selection.selections(evaluations.records),
      "resumed_from_step": start_step,
      "num_devices": mesh.size,
      "wall_seconds": time.time() - wall_start,
  }
  if is_main:
    write_json(os.path.join(workdir, "results.json"), results)
  return results
