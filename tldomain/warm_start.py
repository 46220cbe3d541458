"""Starts a run's backbone from pretrained weights (`model.pretrained`).

Only the backbone is restored: the bottleneck, the head (sized for this task's
classes) and any method modules keep their fresh initialisation. Which groups
then train, and how fast, is `optim.groups`' business. `backbone_variables`
gives a frozen backbone's variables: the features trainer extracts with them,
and a run started from a features-mode run (init_from.py) gets them back.
"""

from absl import logging
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from tldomain import sharding
from tldomain.models import pretrained
from tldomain.models.convert import WeightsMismatchError
from tldomain.models.efficientnet_lite import VARIANTS as LITE_VARIANTS
from tldomain.models.resnet import ARCHITECTURES


def _shapes(tree) -> dict[str, tuple[int, ...]]:
  return {jax.tree_util.keystr(path): tuple(np.shape(leaf))
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def layout_differences(loaded, wanted, shapes: str = "{k}: {have} vs the model's {want}"
                       ) -> list[str]:
  """Every path of `wanted` missing from `loaded`, every extra one, and every shape that
  differs (worded by `shapes`, given k, have and want)."""
  have, want = _shapes(loaded), _shapes(wanted)
  problems = [f"missing {k}" for k in sorted(set(want) - set(have))]
  problems += [f"unexpected {k}" for k in sorted(set(have) - set(want))]
  problems += [shapes.format(k=k, have=have[k], want=want[k])
               for k in sorted(set(have) & set(want)) if have[k] != want[k]]
  return problems


def check_fits(weights: dict, model: dict, origin: str) -> None:
  """Raises, listing every difference, unless `weights` has `model`'s paths and shapes."""
  problems = layout_differences(weights, model)
  if problems:
    raise WeightsMismatchError(f"{origin} does not fit the backbone: " + "; ".join(problems))


def with_pretrained_backbone(config: ml_collections.ConfigDict, state, tx, mesh):
  """`state` with the backbone's params and BatchNorm statistics from `model.pretrained`."""
  name, arch = config.model.get("pretrained", ""), config.model.backbone
  if not name:
    return state
  if arch not in ARCHITECTURES and arch not in LITE_VARIANTS:
    raise ValueError(f"model.pretrained loads ResNet or EfficientNet-Lite weights, but "
                     f"model.backbone is {arch!r}. Those backbones: "
                     f"{', '.join(ARCHITECTURES.names() + LITE_VARIANTS.names())}.")
  weights = pretrained.load(name, arch)
  model = {"params": state.params["backbone"],
           "batch_stats": state.batch_stats.get("backbone", {})}
  check_fits(weights.backbone, model, name)

  def put(state, variables):
    params = {**state.params, "backbone": variables["params"]}
    return state.replace(params=params,
                         batch_stats={**state.batch_stats, "backbone": variables["batch_stats"]},
                         opt_state=tx.init(params))

  return jax.jit(put, out_shardings=sharding.replicated(mesh))(state, weights.backbone)


def backbone_variables(model_config: ml_collections.ConfigDict, seed: int, backbone,
                       image_size: int) -> dict:
  """The frozen backbone's variables: `model.pretrained`, else a seeded random init."""
  images = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  key = jax.random.fold_in(jax.random.key(seed), 0)
  if not model_config.pretrained:
    logging.warning("train.mode=features with no model.pretrained: the features come "
                    "from a randomly initialised %s.", model_config.backbone)
    return backbone.init(key, images, train=False)
  weights = pretrained.load(model_config.pretrained, model_config.backbone)
  check_fits(weights.backbone, jax.eval_shape(lambda: backbone.init(key, images, train=False)),
             model_config.pretrained)
  return weights.backbone
