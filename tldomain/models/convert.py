"""PyTorch state dicts -> Flax variables, saved with Orbax: ResNets (torchvision,
timm) and EfficientNet-Lite (the `efficientnet-lite-pytorch` layout).

Every PyTorch key is mapped explicitly by a family's key table (`key_table`,
`lite_key_table`); the conversion fails,
listing them all, on any missing, unexpected or wrongly shaped tensor, so a
checkpoint never loads half-way. PyTorch and safetensors are imported only
when a file is read: they are not runtime dependencies.
"""

import dataclasses
import os
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

import flax.linen as nn

from tldomain.models import efficientnet_lite
from tldomain.models.torch_guard import block_triton
from tldomain.models.heads import ClassifierHead
from tldomain.models.resnet import ARCHITECTURES, Architecture, ResNet
from tldomain.registry import UnknownNameError

# (collection, path inside the module's variables, layout) for one PyTorch tensor.
Target = tuple[str, tuple[str, ...], str]
# Counters PyTorch's BatchNorm keeps; Flax has no use for them.
IGNORED_SUFFIX = ".num_batches_tracked"


class WeightsMismatchError(ValueError):
  """A checkpoint does not fit the architecture; the message lists every problem."""


@dataclasses.dataclass
class ConvertedWeights:
  """Flax variables of the backbone ({"params", "batch_stats"}) and of the fc head."""
  arch: str
  backbone: dict[str, Any]
  head: dict[str, Any] | None  # {"params": {"dense": {kernel, bias}}}, or None
  meta: dict[str, Any]


def _table_writers(table: dict[str, Target]):
  """conv(torch_name, *flax_path) and bn(...) adding a layer's tensors to `table`."""

  def conv(torch_name: str, *path: str) -> None:
    table[f"{torch_name}.weight"] = ("params", (*path, "kernel"), "conv")

  def bn(torch_name: str, *path: str) -> None:
    table[f"{torch_name}.weight"] = ("params", (*path, "scale"), "vector")
    table[f"{torch_name}.bias"] = ("params", (*path, "bias"), "vector")
    table[f"{torch_name}.running_mean"] = ("batch_stats", (*path, "mean"), "vector")
    table[f"{torch_name}.running_var"] = ("batch_stats", (*path, "var"), "vector")

  return conv, bn


def key_table(arch: Architecture) -> dict[str, Target]:
  """PyTorch key -> Flax target for every tensor of a ResNet backbone (no fc)."""
  table: dict[str, Target] = {}
  conv, bn = _table_writers(table)

  if arch.stem == "deep":  # timm: conv1 = Sequential(conv, bn, relu, conv, bn, relu, conv)
    conv("conv1.0", "stem_conv0")
    bn("conv1.1", "stem_bn0")
    conv("conv1.3", "stem_conv1")
    bn("conv1.4", "stem_bn1")
    conv("conv1.6", "conv1")
  else:
    conv("conv1", "conv1")
  bn("bn1", "bn1")
  num_convs = 3 if arch.block == "bottleneck" else 2
  for name, _, _, project in arch.blocks():
    torch_name = name.replace("_", ".")  # layer1_0 -> layer1.0
    for i in range(1, num_convs + 1):
      conv(f"{torch_name}.conv{i}", name, f"conv{i}")
      bn(f"{torch_name}.bn{i}", name, f"bn{i}")
    if project:
      # torchvision: Sequential(conv, bn); timm's avg_down: Sequential(pool, conv, bn).
      first = 1 if arch.avg_down else 0
      conv(f"{torch_name}.downsample.{first}", name, "downsample", "conv")
      bn(f"{torch_name}.downsample.{first + 1}", name, "downsample", "bn")
  return table


def lite_key_table(variant: efficientnet_lite.LiteVariant) -> dict[str, Target]:
  """PyTorch key -> Flax target for an EfficientNet-Lite backbone (no _fc), in the
  layout of `efficientnet-lite-pytorch` 0.1.0 and its weights packages."""
  table: dict[str, Target] = {}
  conv, bn = _table_writers(table)
  conv("_conv_stem", "conv_stem")
  bn("_bn0", "bn0")
  for spec in variant.blocks():
    torch_name, name = f"_blocks.{spec.index}", f"blocks_{spec.index}"
    if spec.expand_ratio != 1:
      conv(f"{torch_name}._expand_conv", name, "expand_conv")
      bn(f"{torch_name}._bn0", name, "bn0")
    conv(f"{torch_name}._depthwise_conv", name, "depthwise_conv")
    bn(f"{torch_name}._bn1", name, "bn1")
    conv(f"{torch_name}._project_conv", name, "project_conv")
    bn(f"{torch_name}._bn2", name, "bn2")
  conv("_conv_head", "conv_head")
  bn("_bn1", "bn1")
  return table


@dataclasses.dataclass(frozen=True)
class Family:
  """What converting one architecture needs: its key table, its Flax module,
  the names of its classifier's weight and bias, and its pooled width."""
  table: dict[str, Target]
  module: nn.Module
  head_keys: tuple[str, str]
  num_features: int


def family(arch_name: str) -> Family:
  """The conversion family of a ResNet or EfficientNet-Lite architecture name."""
  if arch_name in ARCHITECTURES:
    arch = ARCHITECTURES.get(arch_name)
    return Family(key_table(arch), ResNet(arch), ("fc.weight", "fc.bias"), arch.num_features)
  if arch_name in efficientnet_lite.VARIANTS:
    variant = efficientnet_lite.VARIANTS.get(arch_name)
    return Family(lite_key_table(variant), efficientnet_lite.EfficientNetLite(variant),
                  ("_fc.weight", "_fc.bias"), efficientnet_lite.NUM_FEATURES)
  raise UnknownNameError(
      f"No weights converter for architecture {arch_name!r}. Valid: "
      f"{', '.join(ARCHITECTURES.names() + efficientnet_lite.VARIANTS.names())}.")


def to_flax(value: np.ndarray, layout: str) -> np.ndarray:
  """Conv OIHW -> HWIO, dense (out, in) -> (in, out), vectors as they are."""
  if layout == "conv":
    return np.transpose(value, (2, 3, 1, 0))
  if layout == "dense":
    return np.transpose(value)
  return value


def torch_shape(flax_shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
  """The PyTorch shape that converts to `flax_shape`, for error messages."""
  if layout == "conv":
    h, w, i, o = flax_shape
    return (o, i, h, w)
  if layout == "dense":
    return tuple(reversed(flax_shape))
  return tuple(flax_shape)


def backbone_shapes(module: nn.Module) -> dict[tuple[str, tuple[str, ...]], tuple[int, ...]]:
  """(collection, path) -> shape of every backbone variable, without computing any."""
  variables = jax.eval_shape(
      lambda: module.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)), train=False))
  shapes = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(variables):
    keys = tuple(k.key for k in path)
    shapes[(keys[0], keys[1:])] = tuple(leaf.shape)
  return shapes


def set_path(tree: dict, path: tuple[str, ...], value: Any) -> None:
  for key in path[:-1]:
    tree = tree.setdefault(key, {})
  tree[path[-1]] = value


def convert_state_dict(state_dict: Mapping[str, np.ndarray], arch_name: str,
                       meta: Mapping[str, Any] | None = None) -> ConvertedWeights:
  """Maps a PyTorch state dict onto `arch_name`'s Flax variables (a ResNet or an
  EfficientNet-Lite).

  Raises WeightsMismatchError listing every missing, unexpected and wrongly
  shaped key.
  """
  fam = family(arch_name)
  table, head_keys = fam.table, fam.head_keys
  shapes = backbone_shapes(fam.module)
  covered = {(c, p) for c, p, _ in table.values()}
  assert covered == set(shapes), f"key table and model disagree for {arch_name}"

  state_dict = {k: np.asarray(v) for k, v in state_dict.items()}
  bn_names = {k.rsplit(".", 1)[0] for k in table if k.endswith(".running_mean")}
  has_head = any(k in state_dict for k in head_keys)
  expected = list(table) + (list(head_keys) if has_head else [])
  missing = [k for k in expected if k not in state_dict]
  unexpected, wrong = [], []
  backbone: dict[str, Any] = {}
  for key, value in state_dict.items():
    if key.endswith(IGNORED_SUFFIX) and key[:-len(IGNORED_SUFFIX)] in bn_names:
      continue
    if key in head_keys:
      continue
    if key not in table:
      unexpected.append(key)
      continue
    collection, path, layout = table[key]
    want = torch_shape(shapes[(collection, path)], layout)
    if value.shape != want:
      wrong.append(f"{key}: file has {tuple(value.shape)}, {arch_name} needs {want}")
      continue
    set_path(backbone, (collection, *path), to_flax(value.astype(np.float32), layout))

  head = None
  if all(k in state_dict for k in head_keys):
    weight, bias = (state_dict[k] for k in head_keys)
    want = (bias.shape[0], fam.num_features)
    if weight.shape != want or bias.ndim != 1:
      wrong.append(f"{head_keys[0]}: file has {tuple(weight.shape)} with {head_keys[1]} "
                   f"{tuple(bias.shape)}, {arch_name} needs (classes, {fam.num_features})")
    else:
      head = {"params": {"dense": {"kernel": to_flax(weight.astype(np.float32), "dense"),
                                   "bias": bias.astype(np.float32)}}}

  if missing or unexpected or wrong:
    parts = [f"The checkpoint does not match {arch_name}:"]
    for title, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                        ("wrong shapes", wrong)):
      if keys:
        parts.append(f"  {len(keys)} {title}: " + "; ".join(keys))
    raise WeightsMismatchError("\n".join(parts))
  meta = {"arch": arch_name, "num_classes": int(head["params"]["dense"]["bias"].shape[0])
          if head else 0, **(meta or {})}
  return ConvertedWeights(arch_name, backbone, head, meta)


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """A `.safetensors` or PyTorch `.pth`/`.pt`/`.bin` state dict as numpy arrays."""
  if path.endswith(".safetensors"):
    from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top
    return dict(load_file(path))
  block_triton()
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ImportError(f"Reading {path} needs PyTorch (pip install torch); or convert it "
                      "elsewhere with scripts/convert_weights.py.") from None
  try:
    obj = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as e:  # pickle, zip and torch errors alike: not a plain state dict
    raise WeightsMismatchError(
        f"{path} is not a PyTorch state dict: torch.load(weights_only=True) cannot read it "
        f"({type(e).__name__}; a whole pickled model, or not a torch file). Save the "
        "weights with torch.save(model.state_dict(), path).") from e
  if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
    obj = obj["state_dict"]  # training checkpoints wrap the weights
  if not isinstance(obj, dict):
    raise WeightsMismatchError(f"{path} holds a {type(obj).__name__}, not a state dict.")
  return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy()
          for k, v in obj.items() if isinstance(v, torch.Tensor)}


def save_weights(directory: str, weights: ConvertedWeights) -> str:
  """Writes an Orbax checkpoint: items `backbone`, `head` (if any) and `meta`."""
  directory = os.path.abspath(directory)
  items = {"backbone": ocp.args.StandardSave(weights.backbone),
           "meta": ocp.args.JsonSave({**weights.meta, "has_head": weights.head is not None})}
  if weights.head is not None:
    items["head"] = ocp.args.StandardSave(weights.head)
  with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
    checkpointer.save(directory, args=ocp.args.Composite(**items), force=True)
  return directory


def is_weights_dir(path: str) -> bool:
  return os.path.isdir(os.path.join(path, "meta")) and os.path.isdir(os.path.join(path, "backbone"))


def load_weights(directory: str) -> ConvertedWeights:
  """Reads what `save_weights` wrote, as numpy arrays."""
  directory = os.path.abspath(directory)
  if not is_weights_dir(directory):
    raise FileNotFoundError(f"{directory} is not a converted weights folder (it needs "
                            "backbone/ and meta/); make one with scripts/convert_weights.py.")
  with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
    meta = checkpointer.restore(directory, args=ocp.args.Composite(
        meta=ocp.args.JsonRestore()))["meta"]
    items = {"backbone": ocp.args.StandardRestore()}
    if meta.get("has_head"):
      items["head"] = ocp.args.StandardRestore()
    restored = checkpointer.restore(directory, args=ocp.args.Composite(**items))
  to_numpy = lambda tree: jax.tree.map(np.asarray, tree)
  head = to_numpy(restored["head"]) if meta.get("has_head") else None
  return ConvertedWeights(meta["arch"], to_numpy(restored["backbone"]), head, meta)


def convert_file(source: str, arch_name: str, directory: str,
                 meta: Mapping[str, Any] | None = None) -> ConvertedWeights:
  """Reads a PyTorch file, converts it for `arch_name` and saves it in `directory`."""
  weights = convert_state_dict(read_state_dict(source), arch_name,
                               {"source": os.path.basename(source), **(meta or {})})
  save_weights(directory, weights)
  return weights


def head_module(weights: ConvertedWeights) -> ClassifierHead:
  """The ClassifierHead that the converted fc parameters belong to."""
  if weights.head is None:
    raise ValueError(f"These {weights.arch} weights have no fc head.")
  return ClassifierHead(int(weights.head["params"]["dense"]["bias"].shape[0]))
