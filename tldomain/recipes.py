"""What the ImageNet benchmark configs share (configs/office31.py,
office_home.py, visda2017.py, pacs.py): domain names with a benchmark's short names, and
one Transfer-Learning-Library (TLL) recipe turned into a config.

Shared by all of TLL's recipes (examples/domain_adaptation/image_classification/
*.py and tllib/modules/classifier.py): a torchvision ImageNet ResNet, backbone
lr x0.1 and bottleneck/head/discriminator x1, SGD with momentum 0.9 and
Nesterov, lr annealed per iteration as lr (1 + gamma i)^-0.75, training crops of
224 after a 256x256 resize, discriminators Linear-BN-ReLU x2 of width 1024.

TLL's per-iteration gamma becomes our lr_alpha = gamma x steps, since we anneal
over progress p = i/steps; its gradient-reversal warm start
2/(1+exp(-i/1000)) - 1 becomes grl_gamma = steps / 1000.

Remaining differences from TLL (everything else in these recipes is TLL's):
- Bottleneck: ours is Dense-BN-ReLU for every method; TLL's DAN uses
  Linear-ReLU-Dropout(0.5), its JAN Linear-BN-ReLU-Dropout(0.5), its MDD
  Linear-BN-ReLU-Dropout(0.5) initialised N(0, 0.005) with bias 0.1.
- MDD heads: ours are one Dense layer each; TLL's main and adversarial heads
  are Linear-ReLU-Dropout(0.5)-Linear, as wide as the bottleneck.
- New layers (bottleneck, head, discriminator) start from Flax's default
  initialisation (LeCun-normal kernels, zero biases), not PyTorch's.
- CDAN switches to the randomised multilinear map above 4096 dimensions as the
  paper does (TLL keeps the full map unless --randomized).
- CDAN+E: TLL's entropy adds 1e-5 inside the log; ours is exact.
- Checkpoints: TLL's scripts keep the epoch with the best accuracy on their
  validation set, which here is the target domain itself (target labels);
  ours ranks on source data and reports the final model.
- Input: a different random order and augmentation stream; the ImageNet
  transforms resample once instead of twice (tldomain/data/transforms.py).
The losses themselves match TLL's code (tests/test_losses_reference.py): DAN
and JAN use TLL's estimators (estimator "tllib_linear" and "tllib_quadratic",
tldomain/methods/kernels.py), not the unbiased ones tldomain defaults to.
"""

import dataclasses
from typing import Any

import ml_collections

from tldomain import defaults


@dataclasses.dataclass(frozen=True)
class Recipe:
  """One method's TLL settings on one benchmark (its argparse defaults, with the
  benchmark's lines of its *.sh script)."""
  lr: float
  gamma: float  # TLL's --lr-gamma, per iteration
  weight_decay: float
  epochs: int
  iters_per_epoch: int  # TLL's -i; steps = epochs x iters_per_epoch
  bottleneck_dim: int  # 0: none (TLL's erm.py has no bottleneck)
  batch_size: int = 32  # per domain
  method: tuple[tuple[str, Any], ...] = ()  # method hyperparameters TLL's script sets

  @property
  def steps(self) -> int:
    return self.epochs * self.iters_per_epoch


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """A benchmark's domains: `domains` maps our name (as registered in
  tldomain/data, after `prefix/`) to the short name TLL's scripts use."""
  title: str
  prefix: str
  domains: dict[str, str]

  def domain(self, name: str) -> str:
    """The registered domain name for a full, short or prefixed name, any case:
    "Art", "ar", "office_home/art" and "Real World" all work."""
    key = _normalise(name.strip().removeprefix(self.prefix + "/"))
    for full, short in self.domains.items():
      if key in (_normalise(full), _normalise(short)):
        return f"{self.prefix}/{full}"
    valid = ", ".join(f"{full} ({short})" for full, short in self.domains.items())
    raise ValueError(f"Unknown {self.title} domain {name!r}; valid: {valid}.")


def _normalise(name: str) -> str:
  return "".join(c for c in name.lower() if c.isalnum())


def recipe_for(recipes: dict[str, Recipe], method: str, fallback: str = "dann") -> Recipe:
  """A method's recipe; methods TLL has none for take `fallback`'s (our choice),
  except those that adapt a finished run (source-free, test-time): they take
  source-only's, whose model (no bottleneck in TLL's) they start from."""
  if method not in recipes and defaults.starts_from_a_finished_run(method):
    fallback = "source_only"
  return recipes.get(method, recipes[fallback])


def imagenet_resnet_config(method: str, source: str, target: str, recipe: Recipe, *,
                           backbone: str = "resnet50",
                           train_transform: str = "imagenet_train",
                           eval_transform: str = "imagenet_eval",
                           pretrained: str | None = None,
                           image_size: int = 224) -> ml_collections.ConfigDict:
  """The config of one TLL recipe: `source` and `target` are registered domain
  names; evaluation (and a checkpoint) once per TLL epoch. `pretrained` defaults
  to the backbone's torchvision ImageNet weights."""
  steps = recipe.steps
  config = defaults.base_config()
  config.data.source, config.data.target = source, target
  config.data.image_size = image_size
  config.data.batch_size = recipe.batch_size
  config.data.eval_batch_size = 64
  config.data.train_transform = train_transform
  config.data.eval_transform = eval_transform
  config.model.backbone = backbone
  config.model.pretrained = pretrained or f"{backbone}:torchvision-imagenet1k-v1"
  config.model.bottleneck_dim = recipe.bottleneck_dim
  config.optim.lr = recipe.lr
  config.optim.lr_alpha = recipe.gamma * steps
  config.optim.lr_beta = 0.75
  config.optim.weight_decay = recipe.weight_decay
  config.optim.groups.backbone.lr_mult = 0.1
  config.train.steps = steps
  config.train.eval_every = recipe.iters_per_epoch  # once per TLL "epoch"
  config.train.log_every = 100
  defaults.set_method(config, method)
  if "grl_gamma" in config.method:
    config.method.grl_gamma = steps / 1000.0
  for key, value in recipe.method:
    config.method[key] = value
  return config


# "key=value" parts of a config argument, anywhere after the method.
OPTIONS = {"shots": "shots=K (K labelled target examples per class: data.target_labeled_per_class)"}


def split_options(arg: str) -> tuple[str, dict[str, str]]:
  """"mme,photo,cartoon,shots=3" -> ("mme,photo,cartoon", {"shots": "3"})."""
  parts = arg.split(",")
  options = dict(p.strip().split("=", 1) for p in parts if "=" in p)
  unknown = sorted(set(options) - set(OPTIONS))
  if unknown:
    raise ValueError(f"Unknown option(s) {unknown} in {arg!r}; valid: {'; '.join(OPTIONS.values())}.")
  return ",".join(p for p in parts if "=" not in p), options


def apply_options(config: ml_collections.ConfigDict, options: dict[str, str]) -> None:
  if "shots" in options:
    config.data.target_labeled_per_class = int(options["shots"])


def parse_arg(arg: str, default_source: str, default_target: str) -> tuple[str, str, str]:
  """"method[,source[,target]]" -> (method, source, target)."""
  parts = [p.strip() for p in arg.split(",")]
  if len(parts) > 3 or not parts[0]:
    raise ValueError(f"Expected 'method[,source[,target]]', got {arg!r}.")
  method, source, target = (parts + [default_source, default_target][len(parts) - 1:])[:3]
  return method, source, target


def benchmark_config(arg: str, benchmark: Benchmark, recipes: dict[str, Recipe],
                     default_source: str, default_target: str,
                     **kwargs) -> ml_collections.ConfigDict:
  """A benchmark config file's get_config: "method[,source,target][,key=value...]".

  Domains are the benchmark's names or short names; key=value options are
  those of `split_options`; kwargs go to `imagenet_resnet_config`.
  """
  arg, options = split_options(arg)
  method, source, target = parse_arg(arg, default_source, default_target)
  config = imagenet_resnet_config(method, benchmark.domain(source), benchmark.domain(target),
                                  recipe_for(recipes, method), **kwargs)
  apply_options(config, options)
  return config
