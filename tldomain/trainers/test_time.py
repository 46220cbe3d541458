"""`train.mode = "test_time"`: adapt a finished run while it predicts the target (AdaBN, TENT).

The classifier starts from the final checkpoint of `train.init_from` and
reads no source data. Two adaptations, switched by the method's settings:

- `recompute_bn_statistics` (AdaBN): one pass over the unlabelled target train
  images in training mode; each BatchNorm layer's statistics become the
  target's, pooled over the pass: mean = E_b[mu_b], var = E_b[var_b + mu_b^2]
  - mean^2 (batches weighted by size). No parameter changes.
- `online_updates` (TENT): one pass over the target test stream (shuffled by
  the seed) in batches of `method.batch_size`; each batch is normalised with
  its own statistics and predicted, and that prediction is scored (the online
  accuracy, `online_target_test_accuracy`); then the method's loss on it
  takes one optimiser step on the BatchNorm scales and shifts only.

Then the adapted model is evaluated like every run (tldomain/evaluation.py,
BatchNorm on its running statistics), checkpointed once, and results.json
written with the shared keys plus `adapt_seconds` and the online accuracy.
"""

import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from tldomain import (compute, data, evaluation, init_from, loop, results, run_data,
                      sharding, workdir)
from tldomain.methods import LossInputs, get_method
from tldomain.metrics import MetricWriter
from tldomain.steps import ModuleRunner, classify


def real_batches(split: data.Split, batch_size: int, transform: str, image_size: int):
  """One in-order pass over `split` as host image arrays (the last one shorter)."""
  for batch in data.eval_batches(split, batch_size, transform, image_size):
    yield batch["image"][batch["mask"]], batch["label"][batch["mask"]]


def bn_affine_labels(params: dict, batch_stats: dict) -> dict:
  """"adapt" for the scale and shift of every BatchNorm layer, "frozen" elsewhere.

  A BatchNorm layer is a module with both parameters and batch statistics.
  """

  def label(path, _):
    keys = [getattr(k, "key", k) for k in path]
    node = batch_stats
    for key in keys[:-1]:
      node = node.get(key, {}) if isinstance(node, dict) else {}
    is_bn = isinstance(node, dict) and "mean" in node and keys[-1] in ("scale", "bias")
    return "adapt" if is_bn else "frozen"

  return jax.tree_util.tree_map_with_path(label, params)


def make_train_mode_stats(modules):
  """`stats(params, batch_stats, images)`: the batch statistics a training-mode forward writes."""

  @jax.jit
  def stats(params, batch_stats, images):
    run = ModuleRunner(modules, params, batch_stats, train=True)
    classify(run, images)
    return {**batch_stats, **run.updated_stats}

  return stats


def adabn_statistics(state, modules, batches) -> tuple[object, int]:
  """`state` with BatchNorm statistics pooled over `batches` of target images (AdaBN).

  A training-mode forward updates each statistic as m * old + (1 - m) * batch;
  run once from zeros and once from ones it gives m, then from zeros the
  batch's own mean and variance, whatever momentum a layer uses.
  """
  if not jax.tree.leaves(state.batch_stats):
    raise ValueError("adabn recomputes BatchNorm statistics, but this model has no "
                     "BatchNorm layer.")
  stats = make_train_mode_stats(modules)
  zeros = jax.tree.map(jnp.zeros_like, state.batch_stats)
  momentum, sums, count = None, None, 0
  for images, _ in batches:
    from_zero = stats(state.params, zeros, images)
    if momentum is None:
      from_one = stats(state.params, jax.tree.map(jnp.ones_like, zeros), images)
      momentum = jax.tree.map(lambda a, b: b - a, from_zero, from_one)
    batch = jax.device_get(jax.tree.map(lambda x, m: x / (1 - m), from_zero, momentum))
    n = len(images)
    # Per layer: sum of n * mean and of n * (var + mean^2), pooled below.
    moments = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(batch):
      keys = tuple(getattr(k, "key", k) for k in path)
      moments[keys] = leaf
    part = {}
    for keys, leaf in moments.items():
      if keys[-1] == "mean":
        part[keys] = n * leaf
      elif keys[-1] == "var":
        part[keys] = n * (leaf + moments[keys[:-1] + ("mean",)] ** 2)
    sums = part if sums is None else {k: sums[k] + v for k, v in part.items()}
    count += n

  def pooled(path, old):
    keys = tuple(getattr(k, "key", k) for k in path)
    mean = sums[keys[:-1] + ("mean",)] / count
    if keys[-1] == "mean":
      return jnp.asarray(mean, old.dtype)
    return jnp.asarray(sums[keys] / count - mean ** 2, old.dtype)

  new_stats = jax.tree_util.tree_map_with_path(pooled, state.batch_stats)
  return state.replace(batch_stats=new_stats), count


def make_online_step(modules, method, hparams, tx):
  """`step(params, batch_stats, opt_state, images)`: predict the batch with its own
  statistics, then one optimiser step on the method's loss of that prediction."""

  @jax.jit
  def step(params, batch_stats, opt_state, images):
    def loss_fn(p):
      run = ModuleRunner(modules, p, batch_stats, train=True)
      out = classify(run, images)
      inputs = LossInputs(source=None, target=out, labels=None,
                          progress=jnp.zeros((), jnp.float32), apply=run,
                          rng=jax.random.key(0))
      loss, metrics = method.loss(inputs, hparams)
      return loss, (out.logits, run.updated_stats, metrics)

    (loss, (logits, new_stats, metrics)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), {**batch_stats, **new_stats}, opt_state,
            logits, {**metrics, "loss": loss})

  return step


def tent_pass(state, modules, method, hparams, batches, writer):
  """One online pass; returns the adapted state, its online accuracy and step count."""
  labels = bn_affine_labels(state.params, state.batch_stats)
  if "adapt" not in jax.tree.leaves(labels):
    raise ValueError(f"{method.name} updates BatchNorm scales and shifts, but this model "
                     "has no BatchNorm layer.")
  if hparams.optimizer == "adam":
    adapt = optax.adam(hparams.lr)
  elif hparams.optimizer == "sgd":
    adapt = optax.sgd(hparams.lr, momentum=0.9)
  else:
    raise ValueError(f"method.optimizer must be adam or sgd, not {hparams.optimizer!r}.")
  tx = optax.multi_transform({"adapt": adapt, "frozen": optax.set_to_zero()}, labels)
  step = make_online_step(modules, method, hparams, tx)
  params, stats, opt_state = state.params, state.batch_stats, tx.init(state.params)
  correct = total = steps = 0
  for images, labels_ in batches:
    params, stats, opt_state, logits, metrics = step(params, stats, opt_state, images)
    correct += int(np.sum(np.argmax(jax.device_get(logits), -1) == labels_))
    total += len(labels_)
    steps += 1
    writer.write(steps, {f"train/{k}": float(v) for k, v in jax.device_get(metrics).items()}
                 | {"train/online_accuracy": correct / total})
  return state.replace(params=params, batch_stats=stats), correct / total, steps


def run(config: ml_collections.ConfigDict, workdir_path: str) -> dict:
  """Adapts `train.init_from`'s model at test time; writes `<workdir>/results.json`."""
  wall_start = time.time()
  is_main = jax.process_index() == 0
  config = init_from.target_only(config)
  method = get_method(config.method.name)
  hparams = config.method
  splits = run_data.RunData(config.data, True, config.selection.num_examples,
                            seed=config.seed, source=False)
  mesh = sharding.make_mesh()
  finished = init_from.load(config.train.init_from, config, splits.num_classes)
  compiled = compute.compile_steps(config, method, splits.num_classes, mesh)
  state = jax.device_get(init_from.with_weights(compiled, finished, mesh))
  d = config.data
  os.makedirs(workdir_path, exist_ok=True)
  writer = MetricWriter(workdir_path, enabled=is_main)
  adapt_start = time.time()
  extra: dict = {"init_from": finished.path, "init_from_step": finished.step,
                 "reads_source": False}
  steps = 0
  if hparams.get("recompute_bn_statistics", False):
    state, extra["bn_statistics_examples"] = adabn_statistics(
        state, compiled.modules,
        real_batches(splits.target_train, d.eval_batch_size, d.eval_transform, d.image_size))
  if hparams.get("online_updates", False):
    order = np.random.default_rng(run_data.stream_seed(config.seed, "target_test")
                                  ).permutation(len(splits.target_test))
    stream = real_batches(splits.target_test.take(order), hparams.batch_size,
                          d.eval_transform, d.image_size)
    state, extra["online_target_test_accuracy"], steps = tent_pass(
        state, compiled.modules, method, hparams, stream, writer)
    extra["online_examples"] = len(order)
  extra["adapt_seconds"] = time.time() - adapt_start

  # The shared evaluation, checkpoint and results of the adapted model.
  config.train.steps = steps
  state = jax.device_put(state, sharding.replicated(mesh))
  record = run_data.evaluate(compiled.predict_step, state, splits, d,
                            config.selection.snd_temperature, mesh)
  opened = workdir.open_run(workdir_path, config, state, write=is_main)
  evaluations = evaluation.EvaluationLog(workdir_path, steps, enabled=is_main)
  evaluations.add(steps, record)
  writer.write(steps, {f"eval/{k}": v for k, v in record.items()})
  writer.close()
  if steps not in opened.checkpointer.all_steps():
    opened.checkpointer.save(steps, state, record)
  opened.checkpointer.wait()
  outcome = loop.LoopOutcome(state, steps, record, preempted=False)
  return results.finish(config, workdir_path, outcome, opened.checkpointer, evaluations,
                        0, mesh.size, wall_start, write=is_main, **extra)
