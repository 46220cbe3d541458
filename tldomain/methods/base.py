"""What a method is: a loss over model outputs, its own modules and its defaults.

The trainer runs the classifier on the source (and, when the method uses it,
target) batch, packs the results into `LossInputs`, and calls `method.loss`.
It knows nothing else about the method.
"""

import dataclasses
from typing import Any, Callable, Mapping, NamedTuple, Protocol

import flax.linen as nn
import jax
import ml_collections


class Outputs(NamedTuple):
  """What the classifier gives for one domain's half of the batch."""
  features: jax.Array  # bottleneck output, (batch, dim)
  logits: jax.Array  # (batch, num_classes)


class ModuleApply(Protocol):
  """Runs one of the method's own modules by name, in the step's train mode.

  BatchNorm statistics updated by the call are kept by the trainer.
  """

  def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
    ...


@dataclasses.dataclass(frozen=True)
class LossInputs:
  source: Outputs | None  # None where no source data is read (source-free, test-time)
  target: Outputs | None  # None for methods with uses_target=False
  labels: jax.Array | None  # source labels, int32 (batch,); None with no source
  progress: jax.Array  # training progress p in [0, 1], float32 scalar
  apply: ModuleApply
  rng: jax.Array  # a key for this step, for methods that sample
  # The step's input images (pixel-level methods: PixelDA's generator and discriminator).
  source_images: jax.Array | None = None
  target_images: jax.Array | None = None  # None for methods with uses_target=False
  # The labelled target shots (data.target_labeled_per_class > 0) and their
  # labels. Their cross-entropy is added to every method's loss by the step
  # (tldomain/methods/labeled_target.py); a method may read them too.
  target_labeled: Outputs | None = None
  target_labeled_labels: jax.Array | None = None
  # Labels a trainer computed for the target batch (SHOT's centroid
  # pseudo-labels in train.mode=source_free); never the true target labels.
  target_pseudo_labels: jax.Array | None = None


LossFn = Callable[[LossInputs, ml_collections.ConfigDict],
                  tuple[jax.Array, Mapping[str, jax.Array]]]


def no_modules(hparams: ml_collections.ConfigDict) -> dict[str, nn.Module]:
  del hparams
  return {}


@dataclasses.dataclass(frozen=True)
class Method:
  """A training objective the trainer can run without knowing what it is.

  Attributes:
    name: registry name, selected by `config.method.name`.
    loss: `loss(inputs, hparams) -> (scalar, metrics)`, pure JAX. `hparams` is
      `config.method` (this method's defaults merged with overrides).
    defaults: the method's hyperparameters with their default values.
    modules: `modules(hparams) -> {name: flax module}`, extra modules the loss
      runs through `inputs.apply(name, ...)`; their parameters are trained and
      form parameter groups of the same names. A module with a `dtype` field
      gets `config.model.dtype` there (it computes in bfloat16 under
      mixed precision); what `inputs.apply` returns is float32 either way.
    uses_target: whether the loss needs the target batch; when False the
      trainer neither reads nor forwards target images.
    modes: the `train.mode`s the method runs in ("finetune", "features",
      "source_free", "test_time").
    needs_target_labels: the method is defined with labelled target shots
      (S+T, MME): `data.target_labeled_per_class` must be > 0.
    config: config fields the method sets when selected (`defaults.set_method`),
      as {dotted key: value}: MME's cosine head, SHOT's frozen head.
  """
  name: str
  loss: LossFn
  defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  modules: Callable[[ml_collections.ConfigDict], dict[str, nn.Module]] = no_modules
  uses_target: bool = True
  modes: tuple[str, ...] = ("finetune", "features")
  needs_target_labels: bool = False
  config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
