"""Config values that cannot work, caught before any data is read or code compiled.

Each check names the field, the value and what to set instead; `check` raises
one `ConfigError` listing every problem found.
"""

import jax
import jax.numpy as jnp
import ml_collections

from tldomain import models


class ConfigError(ValueError):
  """A config value that cannot work (a non-positive step count, a negative rate, ...)."""


def _positive(config: ml_collections.ConfigDict, field: str, problems: list[str],
              what: str) -> None:
  value = config
  for part in field.split("."):
    value = value[part]
  if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
    problems.append(f"{field}={value!r}: {what} must be a positive integer.")


def backbone_output_size(model_config: ml_collections.ConfigDict, image_size: int) -> int:
  """The backbone's feature count for one image of `image_size` (0 if it does not fit)."""
  backbone = models.build_backbone(model_config)
  images = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  try:
    out = jax.eval_shape(lambda x: backbone.init_with_output(
        jax.random.key(0), x, train=False)[0], images)
  except (ValueError, TypeError, ZeroDivisionError):
    return 0  # a convolution or pooling window larger than its input
  return 0 if 0 in out.shape else int(out.shape[-1])


def smallest_image_size(model_config: ml_collections.ConfigDict, start: int,
                        limit: int = 64) -> int | None:
  for size in range(start + 1, limit + 1):
    if backbone_output_size(model_config, size):
      return size
  return None


def check(config: ml_collections.ConfigDict) -> None:
  """Raises `ConfigError` naming every field of `config` that cannot work."""
  problems: list[str] = []
  _positive(config, "train.steps", problems, "the number of training steps")
  _positive(config, "train.log_every", problems, "the logging interval")
  _positive(config, "train.eval_every", problems, "the evaluation interval")
  _positive(config, "data.batch_size", problems, "the batch size")
  _positive(config, "data.eval_batch_size", problems, "the evaluation batch size")
  _positive(config, "data.image_size", problems, "the image size")
  _positive(config, "selection.num_examples", problems, "the selection subset size")
  if not config.optim.lr >= 0:  # also catches NaN
    problems.append(f"optim.lr={config.optim.lr!r}: the learning rate must be >= 0.")
  for name, group in config.optim.groups.items():
    if not group.lr_mult >= 0:
      problems.append(f"optim.groups.{name}.lr_mult={group.lr_mult!r}: must be >= 0.")
  if not config.optim.get("weight_decay", 0.0) >= 0:
    problems.append(f"optim.weight_decay={config.optim.weight_decay!r}: must be >= 0.")
  size = config.data.image_size
  if not problems and not backbone_output_size(config.model, size):
    smallest = smallest_image_size(config.model, size)
    problems.append(
        f"data.image_size={size} is too small for backbone {config.model.backbone!r}: "
        "its feature map shrinks to nothing. "
        + (f"Use data.image_size >= {smallest}." if smallest else "Use larger images."))
  if problems:
    raise ConfigError("Config values that cannot work:\n  " + "\n  ".join(problems))
