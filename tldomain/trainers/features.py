"""`train.mode = "features"`: the bottleneck and head train on a frozen backbone's features.

The backbone runs once over every split (eval transform, no augmentation) and
its features are cached (`train.features_cache`, default `<workdir>/features`;
a folder shared by many runs computes each split's features once). Then the
bottleneck and head train on them with the same method, optimizer groups,
schedule, loop, evaluation and checkpoints as a fine-tuning run, with a
pass-through in the backbone's place.
"""

import hashlib
import json
import os
import time

import jax
import ml_collections
import numpy as np

from tldomain import (compute, data, evaluation, loop, models, results, run_data, sharding,
                      workdir)
from tldomain.methods import get_method
from tldomain.metrics import MetricWriter
from tldomain.models.heads import IdentityBottleneck
from tldomain.warm_start import backbone_variables


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
  # A unique temporary name: runs sharing a cache may extract the same split at once.
  tmp = f"{path}.{os.getpid()}.tmp.npz"
  np.savez(tmp, features=features, labels=labels)
  os.replace(tmp, path)
  return features, labels


def split_off_shots(feats: dict, labeled_indices: np.ndarray,
                    test_kept: np.ndarray | None) -> dict:
  """The labelled target shots out of the whole target train split's features,
  the rest as the unlabelled stream, and the test set without the shots when
  it shares their split (run_data.RunData picked them)."""
  x, y = feats["target_train"]
  rest = np.setdiff1d(np.arange(len(y)), labeled_indices)
  out = {"target_labeled": (x[labeled_indices], y[labeled_indices]),
         "target_train": (x[rest], y[rest])}
  if test_kept is not None:
    out["target_test"] = tuple(a[test_kept] for a in feats["target_test"])
  return out


def feature_batches(features: np.ndarray, labels: np.ndarray, global_batch: int, seed: int,
                    stream: int, start_step: int = 0):
  """Endless shuffled batches of this process's share, from `start_step` on.

  Batch k holds stream positions [k * global_batch, (k + 1) * global_batch);
  position p is example order(epoch)[p mod n], where the order depends only on
  (seed, stream, epoch), so a resumed run reads the same batches.
  """
  n = len(labels)
  local = global_batch // jax.process_count()
  position = start_step * global_batch + jax.process_index() * local
  while True:
    positions = position + np.arange(local)
    epochs, offsets = np.divmod(positions, n)
    idx = np.empty(local, np.int64)
    for epoch in np.unique(epochs):
      order = np.random.default_rng([seed, stream, int(epoch)]).permutation(n)
      idx[epochs == epoch] = order[offsets[epochs == epoch]]
    position += global_batch
    yield features[idx], labels[idx].astype(np.int32)


def run(config: ml_collections.ConfigDict, workdir_path: str) -> dict | None:
  """Extracts (or reuses) features, trains the head, writes `<workdir>/results.json`."""
  wall_start = time.time()
  is_main = jax.process_index() == 0
  method = get_method(config.method.name)
  splits = run_data.RunData(config.data, method.uses_target, config.selection.num_examples,
                            seed=config.seed)
  mesh = sharding.mesh_for(config.data)

  backbone = models.build_backbone(config.model)
  variables = backbone_variables(config.model, config.seed, backbone, config.data.image_size)
  apply_fn = jax.jit(lambda v, x: backbone.apply(v, x, train=False))
  to_extract = {"source_train": splits.source_train, "source_val": splits.source_val,
                "target_test": splits.target_test_full, "target_train": splits.target_train_full}
  folder = config.train.get("features_cache", "") or os.path.join(workdir_path, "features")
  feats = {name: extract(config, split, apply_fn, variables, mesh, folder)
           for name, split in to_extract.items()}
  if splits.labeled_indices is not None:
    feats.update(split_off_shots(feats, splits.labeled_indices, splits.target_test_kept))
    if is_main:
      splits.write_labeled(workdir_path, config.seed)
  feature_seconds = time.time() - wall_start

  dim = feats["source_train"][0].shape[1]
  compiled = compute.compile_steps(config, method, splits.num_classes, mesh,
                                   input_shape=(dim,), backbone=IdentityBottleneck())
  opened = workdir.open_run(workdir_path, config, compiled.initial_state, write=is_main)
  start, size = opened.start_step, config.selection.num_examples

  def evaluated_arrays():
    take = lambda name: run_data.subset_indices(len(feats[name][1]), size)
    select = lambda name: tuple(a[take(name)] for a in feats[name])
    return {"source_val": feats["source_val"], "target_test": feats["target_test"],
            "selection_source": select("source_train"),
            # Unlabelled, as in fine-tuning: the labels are hidden (-1).
            "selection_target": (select("target_train")[0],
                                 np.full(len(take("target_train")), -1, np.int32))}

  eval_arrays = evaluated_arrays()

  def evaluate(state) -> dict[str, float]:
    outputs = {name: evaluation.predict(
        compiled.predict_step, state,
        evaluation.array_batches(x, y, config.data.eval_batch_size), mesh)
               for name, (x, y) in eval_arrays.items()}
    return evaluation.evaluation_record(outputs, config.selection.snd_temperature)

  bs = config.data.batch_size
  source = feature_batches(*feats["source_train"], bs, config.seed, 0, start)
  target = (feature_batches(*feats["target_train"], bs, config.seed, 1, start)
            if method.uses_target else None)
  labeled = (feature_batches(*feats["target_labeled"], bs, config.seed, 2, start)
             if "target_labeled" in feats else None)

  def batches():
    while True:
      x, y = next(source)
      batch = {"source": {"image": x, "label": y}}
      if target is not None:
        batch["target"] = {"image": next(target)[0]}  # no target label reaches the step
      if labeled is not None:
        x, y = next(labeled)
        batch["target_labeled"] = {"image": x, "label": y}
      yield sharding.global_batch(batch, mesh)

  evaluations = evaluation.EvaluationLog(workdir_path, start, enabled=is_main)
  outcome = loop.train_loop(
      opened.state, start, compiled.train_step, batches(), evaluate, opened.checkpointer,
      MetricWriter(workdir_path, enabled=is_main), evaluations,
      loop.LoopSchedule.from_config(config.train),
      images_per_step=bs * (1 + method.uses_target + (labeled is not None)),
      name=f"{method.name} (features)", show_progress=is_main)
  return results.finish(config, workdir_path, outcome, opened.checkpointer, evaluations,
                        start, mesh.size, wall_start, write=is_main,
                        feature_dim=int(dim), feature_seconds=feature_seconds)
