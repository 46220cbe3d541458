"""Optimizers over parameter groups.

Every parameter gets a group label from its path ("backbone/conv0/kernel"): the
first rule in `optim.group_rules` whose regex matches, else the name of the
top-level module it belongs to (backbone, bottleneck, head, discriminator, ...).
Each group then gets the base optimizer with its own learning-rate multiplier,
or is frozen, through `optax.multi_transform`.
"""

import re
from typing import Any, Callable, Sequence

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import optax

Schedule = Callable[[jax.Array], jax.Array]


def path_to_string(path: Sequence[Any]) -> str:
  return "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path)


def param_labels(params: Any, rules: Sequence[tuple[str, str]] = ()) -> Any:
  """A pytree like `params` holding each parameter's group label."""
  compiled = [(re.compile(regex), group) for regex, group in rules]

  def label(path, _):
    name = path_to_string(path)
    for regex, group in compiled:
      if regex.search(name):
        return group
    return name.split("/", 1)[0]

  return jax.tree_util.tree_map_with_path(label, params)


def inverse_decay_schedule(base_lr: float, total_steps: int, alpha: float = 10.0,
                           beta: float = 0.75) -> Schedule:
  """lr * (1 + alpha p) ** -beta with p = step / total_steps (DANN, Sec. 5.2.2)."""

  def schedule(step):
    progress = jnp.clip(step / max(total_steps, 1), 0.0, 1.0)
    return base_lr * (1.0 + alpha * progress) ** (-beta)

  return schedule


def learning_rate_schedule(optim_config: ml_collections.ConfigDict,
                           total_steps: int) -> Schedule:
  name = optim_config.schedule
  if name == "inverse_decay":
    return inverse_decay_schedule(optim_config.lr, total_steps,
                                  optim_config.lr_alpha, optim_config.lr_beta)
  if name == "cosine":
    return optax.cosine_decay_schedule(optim_config.lr, total_steps)
  if name == "constant":
    return optax.constant_schedule(optim_config.lr)
  raise ValueError(f"Unknown learning-rate schedule {name!r}. "
                   "Valid names: constant, cosine, inverse_decay.")


def scaled(schedule: Schedule, factor: float) -> Schedule:
  return lambda step: factor * schedule(step)


def base_optimizer(optim_config: ml_collections.ConfigDict,
                   learning_rate: Schedule) -> optax.GradientTransformation:
  """The optimizer of one group; weight decay is coupled L2 as in PyTorch's SGD/Adam."""
  name, wd = optim_config.name, optim_config.weight_decay
  if name == "sgd":
    return optax.chain(optax.add_decayed_weights(wd),
                       optax.sgd(learning_rate, momentum=optim_config.momentum or None,
                                 nesterov=optim_config.nesterov))
  if name == "adam":
    return optax.chain(optax.add_decayed_weights(wd), optax.adam(learning_rate))
  if name == "adamw":
    return optax.adamw(learning_rate, weight_decay=wd)
  raise ValueError(f"Unknown optimizer {name!r}. Valid names: adam, adamw, sgd.")


def build_optimizer(optim_config: ml_collections.ConfigDict, params: Any,
                    total_steps: int) -> optax.GradientTransformation:
  """optax.multi_transform with one transformation per parameter group."""
  labels = param_labels(params, optim_config.get("group_rules", ()))
  present = sorted(set(jax.tree.leaves(labels)))
  settings = optim_config.get("groups", ml_collections.ConfigDict()).to_dict()
  for group in sorted(set(settings) - set(present)):
    logging.warning("optim.groups.%s is set but no parameter is in group %r "
                    "(groups present: %s).", group, group, ", ".join(present))
  schedule = learning_rate_schedule(optim_config, total_steps)
  transforms = {}
  for group in present:
    group_settings = settings.get(group, {})
    if group_settings.get("frozen", False):
      transforms[group] = optax.set_to_zero()
    else:
      multiplier = group_settings.get("lr_mult", 1.0)
      transforms[group] = base_optimizer(optim_config, scaled(schedule, multiplier))
  return optax.multi_transform(transforms, labels)
