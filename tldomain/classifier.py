"""The classifier of a finished run, restored from its workdir for export, predict or distillation.

Only the classifier's modules (backbone -> bottleneck -> head) come back, with
their parameters and BatchNorm statistics, computing in float32 and in
inference mode. A run qualifies when it finished (`results.json` written).
A `train.mode=features` run's checkpoints hold only the bottleneck and head:
its backbone is rebuilt as that trainer built it (model.pretrained, or the
same seeded random initialisation; warm_start.backbone_variables, which the
features trainer uses).
"""

import dataclasses
import os
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from tldomain import compute, models, saved_config, sharding
from tldomain.checkpoint import Checkpointer
from tldomain.data import domains
from tldomain.methods import get_method
from tldomain.models.batch_norm import BatchNorm
from tldomain.steps import ModuleRunner, classify
from tldomain.warm_start import backbone_variables

# Modes whose checkpoints hold the whole classifier, and features mode, whose
# frozen backbone (never saved) is rebuilt from its config.
EXPORTABLE_MODES = ("finetune", "distill", "features")
CHECKPOINTS = ("latest", "best")


class NotExportableError(ValueError):
  """The workdir does not hold a finished classifier; the message says why and what to do."""


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The run's config.json; fields added to the defaults since take their defaults."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise NotExportableError(f"{workdir} holds no config.json: not a tldomain run's workdir.")
  return saved_config.load(workdir)


def class_names(config: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The source domain's class names, from its prepared TFDS builder (built if needed)."""
  d = config.data
  builder = domains.prepared_builder(d.source, d.data_dir or None, d.manual_dir or None)
  label = builder.info.features["label"]
  return tuple(label.names) if label.names else tuple(str(i) for i in range(label.num_classes))


def checkpoint_step(workdir: str, config: ml_collections.ConfigDict, which: str) -> int:
  """The step of the `latest` or `best` checkpoint of a finished run."""
  if which not in CHECKPOINTS:
    raise ValueError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}, not {which!r}.")
  directory = os.path.join(workdir, "checkpoints")
  checkpointer = Checkpointer(directory, config.checkpoint.best_metric,
                              config.checkpoint.best_mode)
  latest, best = checkpointer.latest_step(), checkpointer.best_step()
  checkpointer.close()
  if latest is None:
    raise NotExportableError(f"{workdir} has no checkpoint in {directory}: the run never "
                             "saved one. Train it first (python -m tldomain.main ...).")
  if not os.path.exists(os.path.join(workdir, "results.json")):
    raise NotExportableError(
        f"{workdir} is not finished: its latest checkpoint is step {latest} of "
        f"{config.train.steps} and it has no results.json. Resume it with the same "
        "command (python -m tldomain.main --config=... --workdir=...) and export after.")
  if which == "best":
    if best is None:
      raise NotExportableError(f"{workdir} has no best checkpoint (by "
                               f"{config.checkpoint.best_metric}); use checkpoint=latest.")
    return best
  return latest


@dataclasses.dataclass
class Classifier:
  """A run's classifier at one checkpoint: float32, inference mode."""
  workdir: str
  config: ml_collections.ConfigDict
  step: int
  class_names: tuple[str, ...]
  modules: dict[str, nn.Module]  # backbone, bottleneck, head
  variables: dict[str, dict[str, Any]]  # {"params": {module: ...}, "batch_stats": {...}}

  @property
  def image_size(self) -> int:
    return self.config.data.image_size

  @property
  def num_parameters(self) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(self.variables["params"]))

  def logits(self, images: jax.Array, fold_batch_norm: bool = False) -> jax.Array:
    """Logits of preprocessed float32 images (N, size, size, 3).

    `fold_batch_norm` computes each inference-mode BatchNorm as one multiply-add
    with precomputed factors (what an exported graph wants; equal up to rounding).
    """
    run = ModuleRunner(self.modules, self.variables["params"],
                       self.variables["batch_stats"], train=False)
    if not fold_batch_norm:
      return classify(run, images).logits
    with nn.intercept_methods(_batch_norm_as_affine):
      return classify(run, images).logits


def _batch_norm_as_affine(next_fun, args, kwargs, context):
  """Inference BatchNorm as x * s + t, s = scale / sqrt(var + eps), t = bias - mean * s."""
  module = context.module
  inference = getattr(module, "use_running_average", False)
  if (context.method_name != "__call__" or not inference
      or not isinstance(module, BatchNorm)):
    return next_fun(*args, **kwargs)
  x = args[0]
  stats, params = module.variables["batch_stats"], module.variables["params"]
  s = params["scale"] * jax.lax.rsqrt(stats["var"] + module.epsilon)
  t = params["bias"] - stats["mean"] * s
  return (x.astype(jnp.float32) * s + t).astype(x.dtype)


def restore(workdir: str, checkpoint: str = "latest") -> Classifier:
  """The classifier of the finished run in `workdir` at its `latest` or `best` checkpoint.

  Raises NotExportableError naming why when the workdir is not a finished run
  or its checkpoints do not hold the whole classifier.
  """
  config = load_config(workdir)
  if config.train.mode not in EXPORTABLE_MODES:
    raise NotExportableError(
        f"{workdir} was trained with train.mode={config.train.mode!r}, whose checkpoints "
        f"export cannot read yet. Exportable modes: {', '.join(EXPORTABLE_MODES)}.")
  step = checkpoint_step(workdir, config, checkpoint)
  names = class_names(config)
  # The state's shapes only: no pretrained weights are fetched (the checkpoint
  # replaces them), and the model computes in float32 whatever the run used.
  shaped = ml_collections.ConfigDict(config.to_dict())
  shaped.model.pretrained = ""
  shaped.model.dtype = "float32"
  method = get_method(config.method.name)
  mesh = sharding.make_mesh(jax.devices()[:1])
  features = config.train.mode == "features"
  backbone = models.build_backbone(shaped.model) if features else None
  compiled = (compute.compile_steps(shaped, method, len(names), mesh,
                                    input_shape=(feature_dim(backbone, config.data.image_size),),
                                    backbone=models.IdentityBottleneck())
              if features else compute.compile_steps(shaped, method, len(names), mesh))
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"),
                              config.checkpoint.best_metric, config.checkpoint.best_mode)
  try:
    state = checkpointer.restore(step, compiled.initial_state)
  except (ValueError, KeyError) as e:
    raise NotExportableError(f"The checkpoint at step {step} in {workdir} does not fit the "
                             f"classifier its config.json describes: {e}") from e
  finally:
    checkpointer.close()
  keep = models.CLASSIFIER_MODULES
  variables = {
      "params": {k: v for k, v in state.params.items() if k in keep},
      "batch_stats": {k: v for k, v in state.batch_stats.items() if k in keep}}
  modules = {k: compiled.modules[k] for k in keep}
  if features:  # the checkpoint's backbone is the pass-through the head trained behind
    modules["backbone"] = backbone
    frozen = frozen_backbone(config, backbone)
    variables["params"]["backbone"] = frozen["params"]
    variables["batch_stats"]["backbone"] = frozen.get("batch_stats", {})
  return Classifier(workdir=workdir, config=config, step=step, class_names=names,
                    modules=modules, variables=jax.device_get(variables))


def feature_dim(backbone: nn.Module, image_size: int) -> int:
  """The width of `backbone`'s features (shapes only, nothing computed)."""
  images = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  shapes = jax.eval_shape(lambda x: backbone.init_with_output(
      jax.random.key(0), x, train=False)[0], images)
  return int(shapes.shape[-1])


def frozen_backbone(config: ml_collections.ConfigDict, backbone: nn.Module) -> dict:
  """A features-mode run's backbone variables, exactly as its trainer made them."""
  return backbone_variables(config.model, config.seed, backbone, config.data.image_size)
