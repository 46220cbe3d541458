"""Starting a run from a finished one (`train.init_from`): source-free and test-time modes.

`load` checks that the folder holds a finished run whose classifier matches
this run's (backbone, bottleneck, head, input size, class count) and returns
its final parameters and BatchNorm statistics (for a `train.mode=features`
run, with the frozen backbone it trained on); `target_only` adapts a config
to a run that reads no source data.
"""

import os
from typing import NamedTuple

from absl import logging
import jax
import ml_collections
import orbax.checkpoint as ocp

from tldomain import compute, models, saved_config, sharding
from tldomain.checkpoint import Checkpointer
from tldomain.models import CLASSIFIER_MODULES
from tldomain.warm_start import backbone_variables, layout_differences

# Fields of the source run that must equal this run's for its weights to apply.
MATCHING_FIELDS = ("model.backbone", "model.bottleneck_dim", "model.head",
                   "data.image_size")


class FinishedRun(NamedTuple):
  path: str
  config: ml_collections.ConfigDict
  step: int
  params: dict  # {backbone, bottleneck, head} -> parameters, NumPy
  batch_stats: dict


def _field(config: ml_collections.ConfigDict, dotted: str):
  node = config
  for part in dotted.split("."):
    node = node[part]
  return node


def load(path: str, config: ml_collections.ConfigDict, num_classes: int) -> FinishedRun:
  """The final classifier of the finished run at `path`, checked against `config`."""
  if not path:
    raise ValueError(f"train.mode={config.train.mode} starts from a finished run: set "
                     "train.init_from to its workdir (e.g. a source_only run's).")
  if not os.path.isfile(os.path.join(path, "config.json")):
    raise FileNotFoundError(f"train.init_from={path!r} is not a tldomain run: it holds no "
                            "config.json. Point it at the workdir of a finished run.")
  if not os.path.isfile(os.path.join(path, "results.json")):
    raise ValueError(f"train.init_from={path!r} is not a finished run: it holds no "
                     "results.json. Finish that run first (start its command again to "
                     "resume it).")
  source_config = saved_config.load(path)
  differ = [f"{key}: {_field(source_config, key)!r} there, {_field(config, key)!r} here"
            for key in MATCHING_FIELDS if _field(source_config, key) != _field(config, key)]
  if differ:
    raise ValueError(f"train.init_from={path!r} was trained with another model: "
                     + "; ".join(differ) + ". Use a run with the same model settings.")
  checkpointer = Checkpointer(os.path.join(path, "checkpoints"),
                              source_config.checkpoint.best_metric,
                              source_config.checkpoint.best_mode)
  step = checkpointer.latest_step()
  checkpointer.close()
  if step is None:
    raise ValueError(f"train.init_from={path!r} holds no checkpoint.")
  state = _restore(os.path.join(path, "checkpoints", str(step), "default"))
  params = {m: state["params"][m] for m in CLASSIFIER_MODULES if m in state["params"]}
  stats = {m: state["batch_stats"][m] for m in CLASSIFIER_MODULES
           if m in state.get("batch_stats", {})}
  if source_config.train.mode == "features":
    # Its checkpoints hold the bottleneck and head; the backbone is the frozen one
    # the features came from (model.pretrained, or the run's seeded initialisation).
    backbone = backbone_variables(source_config.model, source_config.seed,
                                  models.build_backbone(source_config.model),
                                  source_config.data.image_size)
    params["backbone"] = backbone["params"]
    if backbone.get("batch_stats"):
      stats["backbone"] = backbone["batch_stats"]
  head_classes = jax.tree.leaves(params["head"])[0].shape[-1]
  if head_classes != num_classes:
    raise ValueError(f"train.init_from={path!r} classifies {head_classes} classes but the "
                     f"target {config.data.target!r} has {num_classes}.")
  return FinishedRun(path, source_config, step, params, stats)


def _restore(path: str) -> dict:
  """A saved train state as NumPy arrays, whatever devices saved it."""
  checkpointer = ocp.StandardCheckpointer()
  metadata = checkpointer.metadata(path).item_metadata
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                        metadata)
  return jax.device_get(checkpointer.restore(path, target))


def check_same_layout(loaded: dict, fresh: dict, path: str) -> None:
  """Raises, naming every difference, unless the two trees share paths and shapes."""
  problems = layout_differences(loaded, fresh, shapes="{k}: {have} there, {want} here")
  if problems:
    raise ValueError(f"The classifier of train.init_from={path!r} does not fit this run's: "
                     + "; ".join(problems[:10]))


def with_weights(compiled: compute.CompiledSteps, finished: FinishedRun, mesh):
  """The initial state with the finished run's classifier and a fresh optimizer state."""
  state = compiled.initial_state
  fresh = {"params": {m: state.params[m] for m in CLASSIFIER_MODULES if m in state.params},
           "batch_stats": {m: state.batch_stats[m] for m in CLASSIFIER_MODULES
                           if m in state.batch_stats}}
  check_same_layout({"params": finished.params, "batch_stats": finished.batch_stats}, fresh,
                    finished.path)

  def put(state, params, stats):
    params = {**state.params, **params}
    return state.replace(params=params, batch_stats={**state.batch_stats, **stats},
                         opt_state=compiled.tx.init(params))

  return jax.jit(put, out_shardings=sharding.replicated(mesh))(
      state, finished.params, finished.batch_stats)


def target_only(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A copy of `config` for a run that reads no source data.

  Says that `data.source` is ignored, and ranks checkpoints by target entropy
  when `checkpoint.best_metric` would need source data.
  """
  config = ml_collections.ConfigDict(config.to_dict())
  if config.data.source:
    logging.warning("train.mode=%s reads no source data: data.source=%r is ignored.",
                    config.train.mode, config.data.source)
  if config.checkpoint.best_metric in ("source_val_accuracy", "dev") or \
      config.checkpoint.best_metric.startswith("source_val"):
    logging.info("train.mode=%s has no source data to rank checkpoints by %s; using "
                 "target_entropy (min).", config.train.mode, config.checkpoint.best_metric)
    config.checkpoint.best_metric, config.checkpoint.best_mode = "target_entropy", "min"
  return config
