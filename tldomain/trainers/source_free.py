"""`train.mode = "source_free"`: adapt a finished run to the target without source data.

The classifier starts from the final checkpoint of `train.init_from` (a
finished run, e.g. source-only) and trains on unlabelled target train images
only: no source split is opened (SHOT, SHOT-IM: tldomain/methods/shot.py).
When the method weighs pseudo-labels (`method.pseudo_label_weight > 0`), they
are recomputed from class centroids of the current model over the whole
target train set at the start of every epoch (tldomain/pseudo_labels.py),
saved to `<workdir>/pseudo_labels.npz` (so a resumed run uses the same ones)
and passed to the loss with each target batch. Evaluation, checkpoints,
resume and results.json are the shared ones, without the source metrics.
"""

import dataclasses
import os
import time

import jax
import ml_collections
import numpy as np

from tldomain import (compute, data, evaluation, init_from, loop, pseudo_labels, results,
                      run_data, sharding, workdir)
from tldomain.methods import get_method
from tldomain.metrics import MetricWriter


def run(config: ml_collections.ConfigDict, workdir_path: str) -> dict | None:
  """Adapts `train.init_from`'s model on target data; writes `<workdir>/results.json`."""
  wall_start = time.time()
  is_main = jax.process_index() == 0
  config = init_from.target_only(config)
  method = get_method(config.method.name)
  splits = run_data.RunData(config.data, True, config.selection.num_examples,
                            seed=config.seed, source=False)
  mesh = sharding.mesh_for(config.data)
  finished = init_from.load(config.train.init_from, config, splits.num_classes)
  compiled = compute.compile_steps(config, method, splits.num_classes, mesh)
  opened = workdir.open_run(workdir_path, config, init_from.with_weights(compiled, finished, mesh),
                            write=is_main)
  d = config.data

  def outputs(state, split):
    return run_data.predict_split(compiled.predict_step, state, split, d, mesh)

  def evaluate(state) -> dict[str, float]:
    return run_data.evaluate(compiled.predict_step, state, splits, d,
                             config.selection.snd_temperature, mesh)

  target = splits.target_train.hide_labels()
  steps_per_epoch = -(-len(target) // d.batch_size)
  uses_pseudo = config.method.get("pseudo_label_weight", 0.0) > 0
  labels_path = os.path.join(workdir_path, "pseudo_labels.npz")
  latest = {"state": opened.state}  # the state the next step starts from

  def epoch_labels(epoch: int) -> np.ndarray:
    if os.path.exists(labels_path):
      with np.load(labels_path) as saved:
        if int(saved["epoch"]) == epoch:  # resumed within this epoch
          return saved["labels"]
    out = outputs(latest["state"], target)
    labels = pseudo_labels.centroid_pseudo_labels(out["features"], out["logits"])
    if is_main:
      np.savez(labels_path + ".tmp.npz", epoch=epoch, labels=labels)
      os.replace(labels_path + ".tmp.npz", labels_path)
    return labels

  def batches():
    step, stream = opened.start_step, None
    while True:
      if stream is None or step % steps_per_epoch == 0:
        split = target
        if uses_pseudo:
          split = dataclasses.replace(target, labels=epoch_labels(step // steps_per_epoch)
                                      .astype(np.int64))
        stream = data.train_stream(split, d.batch_size, run_data.stream_seed(
            config.seed, "target"), step, d.train_transform, d.image_size)
      batch = next(stream)
      target_batch = {"image": batch["image"]}
      if uses_pseudo:
        target_batch["pseudo_label"] = batch["label"]
      step += 1
      yield sharding.global_batch({"target": target_batch}, mesh)

  def train_step(state, batch):
    state, metrics = compiled.train_step(state, batch)
    latest["state"] = state
    return state, metrics

  evaluations = evaluation.EvaluationLog(workdir_path, opened.start_step, enabled=is_main)
  outcome = loop.train_loop(
      opened.state, opened.start_step, train_step, batches(), evaluate,
      opened.checkpointer, MetricWriter(workdir_path, enabled=is_main), evaluations,
      loop.LoopSchedule.from_config(config.train), images_per_step=d.batch_size,
      name=f"{method.name} (source-free)", show_progress=is_main)
  return results.finish(config, workdir_path, outcome, opened.checkpointer, evaluations,
                        opened.start_step, mesh.size, wall_start, write=is_main,
                        init_from=finished.path, init_from_step=finished.step,
                        reads_source=False)
