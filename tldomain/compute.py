"""The compute core: a config turned into modules, optimizer, initial state and jitted steps.

Nothing here imports TensorFlow or TFDS: the core runs on a machine that has
only JAX, and inside a user's own input loop (feed `train_step` batches of
{"source": {image, label}, "target": {image}} sharded with
`sharding.global_batch`). The trainers (tldomain/trainers/) build on it.
"""

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from tldomain import models, optim, sharding, warm_start
from tldomain.methods import Method
from tldomain.steps import TrainState, init_variables, make_predict_step, make_train_step


def build_modules(model_config: ml_collections.ConfigDict, method: Method,
                  method_config: ml_collections.ConfigDict, num_classes: int
                  ) -> dict[str, nn.Module]:
  """The classifier's and the method's modules, all computing in `model_config.dtype`."""
  modules = models.build_classifier(model_config, num_classes)
  extra = models.with_dtype(method.modules(method_config), models.compute_dtype(model_config))
  clash = sorted(set(extra) & set(modules))
  if clash:
    raise ValueError(f"Method {method.name!r} defines modules named {clash}, which "
                     f"the classifier uses; rename them.")
  return {**modules, **extra}


def example_batch(input_shape: tuple[int, ...], labeled_target: bool = False,
                  source: bool = True) -> dict:
  """A two-example batch of zeros: enough to trace shapes through every module.

  It holds the parts the real batches hold: labelled target shots when the
  run has them, no source in source-free and test-time modes.
  """
  inputs = jnp.zeros((2, *input_shape), jnp.float32)
  labels = jnp.zeros((2,), jnp.int32)
  batch = {"target": {"image": inputs}}
  if source:
    batch["source"] = {"image": inputs, "label": labels}
  else:  # the source-free trainer may hand in pseudo-labels (SHOT)
    batch["target"]["pseudo_label"] = labels
  if labeled_target:
    batch["target_labeled"] = {"image": inputs, "label": labels}
  return batch


# Modes that read no source data: their batches hold no "source" part.
SOURCE_FREE_MODES = ("source_free", "test_time")


class CompiledSteps(NamedTuple):
  modules: dict[str, Any]
  tx: Any
  initial_state: TrainState
  train_step: Callable  # jitted (state, batch) -> (state, metrics); donates state
  predict_step: Callable  # jitted (state, batch) -> {features, logits, label, mask}


def compile_steps(config: ml_collections.ConfigDict, method: Method, num_classes: int,
                  mesh, input_shape: tuple[int, ...] | None = None,
                  backbone: nn.Module | None = None) -> CompiledSteps:
  """Modules, optimizer, initial state and the jitted steps over `mesh`.

  `input_shape` defaults to (image_size, image_size, 3). `backbone` replaces
  the configured one (feature-extraction mode trains behind a pass-through on
  cached features); `model.pretrained` then does not apply to the state and
  the `backbone` parameter group, which would be empty, is dropped.
  """
  image_size = config.data.image_size
  input_shape = input_shape or (image_size, image_size, 3)
  modules = build_modules(config.model, method, config.method, num_classes)
  optim_config = config.optim
  if backbone is not None:
    modules["backbone"] = backbone
    optim_config = ml_collections.ConfigDict(config.optim.to_dict())
    optim_config.groups = {k: v for k, v in optim_config.groups.items() if k != "backbone"}
  total_steps = config.train.steps
  example = example_batch(input_shape,
                          labeled_target=config.data.get("target_labeled_per_class", 0) > 0,
                          source=config.train.mode not in SOURCE_FREE_MODES)
  init_key = jax.random.fold_in(jax.random.key(config.seed), 0)
  # The optimizer's group labels need the parameter tree, not its values.
  params_shape, _ = jax.eval_shape(
      lambda: init_variables(modules, method, config.method, example, jax.random.key(0)))
  tx = optim.build_optimizer(optim_config, params_shape, total_steps)

  def init(rng):
    params, stats = init_variables(modules, method, config.method, example, rng)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=stats, opt_state=tx.init(params))

  replicated, batch_sharded = sharding.replicated(mesh), sharding.batch_sharded(mesh)
  state = jax.jit(init, out_shardings=replicated)(init_key)
  if backbone is None:
    state = warm_start.with_pretrained_backbone(config, state, tx, mesh)
  schedule = optim.learning_rate_schedule(optim_config, total_steps)
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
