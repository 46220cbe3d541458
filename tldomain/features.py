"""Feature-extraction mode (`train.mode = "features"`): a head on frozen features.

The backbone runs once over every split (eval transform, no augmentation) and
its features are cached in `<workdir>/features/`; then the bottleneck and head
train on them with the same method, optimizer groups and schedule as a
fine-tuning run, with a pass-through in the backbone's place. Training takes
seconds, so there are no checkpoints to resume: a rerun reuses the cached
features and trains again.
"""

import hashlib
import json
import os
import time

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from tldomain import data, models, optim, sharding
from tldomain.methods import get_method
from tldomain.metrics import MetricWriter
from tldomain.models import pretrained
from tldomain.models.heads import IdentityBottleneck
from tldomain.steps import TrainState, init_variables, make_eval_step, make_train_step
from tldomain.train import RunData, build_modules, write_json
from tldomain.warm_start import check_fits

MODES = ("features", "finetune")


def backbone_variables(config: ml_collections.ConfigDict, backbone, image_size: int) -> dict:
  """The frozen backbone's variables: `model.pretrained`, else a seeded random init."""
  images = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  key = jax.random.fold_in(jax.random.key(config.seed), 0)
  if not config.model.pretrained:
    logging.warning("train.mode=features with no model.pretrained: the features come "
                    "from a randomly initialised %s.", config.model.backbone)
    return backbone.init(key, images, train=False)
  weights = pretrained.load(config.model.pretrained, config.model.backbone)
  check_fits(weights.backbone, jax.eval_shape(lambda: backbone.init(key, images, train=False)),
             config.model.pretrained)
  return weights.backbone


def fingerprint(config: ml_collections.ConfigDict, split: data.Split) -> str:
  """What the cached features of `split` depend on; a change recomputes them."""
  d, m = config.data, config.model
  parts = [split.domain, split.split, len(split), m.backbone, m.pretrained,
           d.image_size, d.eval_transform, "" if m.pretrained else config.seed]
  if m.get("dtype", "float32") != "float32":  # float32 caches keep their old names
    parts.append(m.dtype)
  return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def extract(config, split: data.Split, apply_fn, variables, mesh, folder: str):
  """(features, labels) of every example of `split`, from the cache when it matches."""
  key = fingerprint(config, split)
  path = os.path.join(folder, f"{split.domain.replace('/', '_')}-{split.split}-{key}.npz")
  if os.path.exists(path):
    with np.load(path) as cached:
      return cached["features"], cached["labels"]
  chunks, labels = [], []
  for batch in data.eval_batches(split, config.data.eval_batch_size,
                                 config.data.eval_transform, config.data.image_size):
    out = jax.device_get(apply_fn(variables, sharding.global_batch(batch, mesh)["image"]))
    chunks.append(out[batch["mask"]])
    labels.append(batch["label"][batch["mask"]])
  features, labels = np.concatenate(chunks).astype(np.float32), np.concatenate(labels)
  os.makedirs(folder, exist_ok=True)
  np.savez(path + ".tmp.npz", features=features, labels=labels)
  os.replace(path + ".tmp.npz", path)
  return features, labels


def feature_batches(features: np.ndarray, labels: np.ndarray, batch_size: int, seed: int,
                    stream: int):
  """Endless shuffled batches; step k's batch depends only on (seed, stream, epoch)."""
  n, position = len(labels), 0
  while True:
    epoch, offset = divmod(position, n)
    order = np.random.default_rng([seed, stream, epoch]).permutation(n)
    idx = order[offset:offset + batch_size]
    if len(idx) < batch_size:  # wrap into the next epoch's order
      idx = np.concatenate([idx, np.random.default_rng(
          [seed, stream, epoch + 1]).permutation(n)[:batch_size - len(idx)]])
    position += batch_size
    yield features[idx], labels[idx].astype(np.int32)


def accuracy(eval_step, state, features, labels, batch_size: int, mesh) -> dict[str, float]:
  totals = None
  for start in range(0, len(labels), batch_size):
    x, y = features[start:start + batch_size], labels[start:start + batch_size]
    pad = batch_size - len(y)
    batch = {"image": np.pad(x, ((0, pad), (0, 0))), "label": np.pad(y, (0, pad)).astype(np.int32),
             "mask": np.arange(batch_size) < len(y)}
    sums = eval_step(state, sharding.global_batch(batch, mesh))
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
  totals = jax.device_get(totals)
  return {"accuracy": float(totals["correct"] / totals["count"]),
          "loss": float(totals["loss"] / totals["count"])}


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Extracts (or reuses) features, trains the head, writes `<workdir>/results.json`."""
  if config.train.mode != "features":
    raise ValueError(f"Unknown train.mode {config.train.mode!r}. Valid modes: "
                     f"{', '.join(MODES)}.")
  wall_start = time.time()
  os.makedirs(workdir, exist_ok=True)
  method = get_method(config.method.name)
  run_data = RunData(config, method.uses_target)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.data.batch_size, mesh)
  sharding.check_batch_size(config.data.eval_batch_size, mesh, "eval batch size")
  if jax.process_index() == 0:
    with open(os.path.join(workdir, "config.json"), "w", encoding="utf-8") as f:
      f.write(config.to_json_best_effort(indent=2))

  backbone = models.build_backbone(config.model)
  variables = backbone_variables(config, backbone, config.data.image_size)
  apply_fn = jax.jit(lambda v, x: backbone.apply(v, x, train=False))
  splits = {"source_train": run_data.source_train, "source_val": run_data.source_val,
            "target_test": run_data.target_test}
  if run_data.target_train is not None:
    splits["target_train"] = run_data.target_train
  folder = os.path.join(workdir, "features")
  feats = {name: extract(config, split, apply_fn, variables, mesh, folder)
           for name, split in splits.items()}
  feature_seconds = time.time() - wall_start

  # The classifier and the method's modules, with a pass-through as the backbone.
  modules = {**build_modules(config, method, run_data.num_classes),
             "backbone": IdentityBottleneck()}
  dim, steps, bs = feats["source_train"][0].shape[1], config.train.steps, config.data.batch_size
  example = {"source": {"image": jnp.zeros((2, dim)), "label": jnp.zeros((2,), jnp.int32)},
             "target": {"image": jnp.zeros((2, dim))}}
  params, stats = init_variables(modules, method, config.method, example,
                                 jax.random.fold_in(jax.random.key(config.seed), 0))
  optim_config = ml_collections.ConfigDict(config.optim.to_dict())
  optim_config.groups = {k: v for k, v in optim_config.groups.items() if k != "backbone"}
  tx = optim.build_optimizer(optim_config, params, steps)
  replicated, batch_sharded = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  state = jax.device_put(TrainState(step=jnp.zeros((), jnp.int32), params=params,
                                    batch_stats=stats, opt_state=tx.init(params)), replicated)
  train_step = jax.jit(
      make_train_step(modules, method, config.method, tx,
                      optim.learning_rate_schedule(config.optim, steps), steps, config.seed),
      in_shardings=(replicated, batch_sharded), out_shardings=(replicated, replicated),
      donate_argnums=0)
  eval_step = jax.jit(make_eval_step(modules), in_shardings=(replicated, batch_sharded),
                      out_shardings=replicated)

  source = feature_batches(*feats["source_train"], bs, config.seed, 0)
  target = (feature_batches(*feats["target_train"], bs, config.seed, 1)
            if "target_train" in feats else None)
  writer = MetricWriter(workdir, enabled=jax.process_index() == 0)
  losses = []
  for step in range(1, steps + 1):
    x, y = next(source)
    batch = {"source": {"image": x, "label": y}}
    if target is not None:
      batch["target"] = {"image": next(target)[0]}  # no target label reaches the step
    state, metrics = train_step(state, sharding.global_batch(batch, mesh))
    losses.append(metrics["loss"])
    if step % config.train.log_every == 0 or step == steps:
      loss = float(np.mean(jax.device_get(losses)))
      if not np.isfinite(loss):
        raise FloatingPointError(f"The training loss is {loss} by step {step}; lower "
                                 "the learning rate or the method's trade-off.")
      writer.write(step, {"train/loss": loss})
      losses = []
  results_eval = {}
  for name in ("source_val", "target_test"):
    for k, v in accuracy(eval_step, state, *feats[name], config.data.eval_batch_size,
                         mesh).items():
      results_eval[f"{name}_{k}"] = v
  writer.write(steps, {f"eval/{k}": v for k, v in results_eval.items()})
  writer.close()
  results = {
      "method": method.name,
      "mode": "features",
      "source": config.data.source,
      "target": config.data.target,
      "backbone": config.model.backbone,
      "pretrained": config.model.pretrained,
      "seed": config.seed,
      "steps": steps,
      "target_test_accuracy": results_eval["target_test_accuracy"],
      "source_val_accuracy": results_eval["source_val_accuracy"],
      "feature_dim": int(dim),
      "feature_seconds": feature_seconds,
      "num_devices": mesh.size,
      "wall_seconds": time.time() - wall_start,
  }
  if jax.process_index() == 0:
    write_json(os.path.join(workdir, "results.json"), results)
  return results
