"""Pure step functions: initialisation, one training step, one prediction step.

Modules are kept by name ({"backbone", "bottleneck", "head", "discriminator",
...}); parameters and BatchNorm statistics are dicts with the same keys, so a
parameter's path starts with its module's name ("head/dense/kernel").

Modules may compute in bfloat16 (`config.model.dtype`); every module output the
step functions see is cast to float32, so features, logits and all losses are
float32 whatever the compute dtype.
"""

from typing import Any, Callable, Mapping

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from tldomain.methods.base import LossInputs, Method, Outputs
from tldomain.methods.labeled_target import labeled_target_loss

Batch = Mapping[str, Any]


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: dict[str, Any]
  batch_stats: dict[str, Any]
  opt_state: Any


def as_float32(tree: Any) -> Any:
  """Floating arrays of `tree` in float32 (lower precision ones cast up), others as they are."""
  return jax.tree.map(
      lambda x: x.astype(jnp.float32)
      if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != jnp.float32 else x, tree)


class ModuleRunner:
  """Applies modules by name with the step's variables (the `ModuleApply` of methods).

  Outputs come back in float32 (`as_float32`) whatever dtype the module
  computes in.

  In training mode the BatchNorm statistics each call updates are collected in
  `updated_stats`; the step function returns them in the new state.
  """

  def __init__(self, modules: Mapping[str, nn.Module], params: Mapping[str, Any],
               batch_stats: Mapping[str, Any], train: bool):
    self.modules, self.params, self.batch_stats = modules, params, batch_stats
    self.train = train
    self.updated_stats: dict[str, Any] = {}

  def module(self, name: str) -> nn.Module:
    if name not in self.modules:
      raise KeyError(f"No module named {name!r}; this run has "
                     f"{', '.join(sorted(self.modules))}. A method must return its "
                     "extra modules from Method.modules.")
    return self.modules[name]

  def __call__(self, name: str, *args, **kwargs):
    module = self.module(name)
    variables = {"params": self.params.get(name, {})}
    stats = self.updated_stats.get(name, self.batch_stats.get(name))
    if stats is not None:
      variables["batch_stats"] = stats
    if self.train and stats is not None:
      out, mutated = module.apply(variables, *args, train=True,
                                  mutable=["batch_stats"], **kwargs)
      self.updated_stats[name] = mutated["batch_stats"]
      return as_float32(out)
    return as_float32(module.apply(variables, *args, train=self.train, **kwargs))


class ModuleInitializer(ModuleRunner):
  """A runner that initialises each module the first time it is called."""

  def __init__(self, modules: Mapping[str, nn.Module], rng: jax.Array):
    super().__init__(modules, {}, {}, train=False)
    self.rng = rng
    self.variables: dict[str, Any] = {}

  def __call__(self, name: str, *args, **kwargs):
    module = self.module(name)
    if name not in self.variables:
      key = jax.random.fold_in(self.rng, sorted(self.modules).index(name))
      self.variables[name] = module.init(key, *args, train=False, **kwargs)
    return as_float32(module.apply(self.variables[name], *args, train=False, **kwargs))


def classify(run: ModuleRunner, images: jax.Array) -> Outputs:
  features = run("bottleneck", run("backbone", images))
  return Outputs(features=features, logits=run("head", features))


def split_outputs(outputs: Outputs, n_first: int) -> tuple[Outputs, Outputs]:
  """The outputs of the first `n_first` examples of a batch, and of the rest."""
  return (Outputs(*(x[:n_first] for x in outputs)), Outputs(*(x[n_first:] for x in outputs)))


def method_loss(run: ModuleRunner, batch: Batch, method: Method,
                hparams: ml_collections.ConfigDict, progress: jax.Array,
                rng: jax.Array):
  """One forward over every image of the batch, then the method's loss.

  The batch holds "source" {image, label} (absent in source-free and
  test-time modes), "target" {image[, pseudo_label]} when the method uses
  the target, and "target_labeled" {image, label} when the run has labelled
  target shots, whose cross-entropy is added to any method's loss.
  """
  parts = [(name, batch[name]["image"]) for name in ("source", "target", "target_labeled")
           if name in batch and (name != "target" or method.uses_target)]
  outputs = classify(run, jnp.concatenate([images for _, images in parts]))
  split = {}
  for name, images in parts:
    split[name], outputs = split_outputs(outputs, images.shape[0])
  labeled = split.get("target_labeled")
  inputs = LossInputs(
      source=split.get("source"), target=split.get("target"),
      labels=batch["source"]["label"] if "source" in batch else None,
      progress=progress, apply=run, rng=rng, target_labeled=labeled,
      target_labeled_labels=batch["target_labeled"]["label"] if labeled is not None else None,
      target_pseudo_labels=batch.get("target", {}).get("pseudo_label"),
      source_images=batch["source"]["image"] if "source" in batch else None,
      target_images=batch["target"]["image"] if "target" in split else None)
  loss, metrics = method.loss(inputs, hparams)
  if labeled is not None:
    labeled_loss, labeled_metrics = labeled_target_loss(inputs)
    loss, metrics = loss + labeled_loss, {**metrics, **labeled_metrics}
  return loss, metrics


def init_variables(modules: Mapping[str, nn.Module], method: Method,
                   hparams: ml_collections.ConfigDict, example_batch: Batch,
                   rng: jax.Array) -> tuple[dict, dict]:
  """(params, batch_stats) of every module, by tracing the loss once on `example_batch`.

  Running the real loss initialises exactly the modules the method uses, with
  the input shapes it gives them.
  """
  init = ModuleInitializer(modules, rng)
  method_loss(init, example_batch, method, hparams, jnp.zeros((), jnp.float32), rng)
  params = {n: v["params"] for n, v in init.variables.items() if "params" in v}
  stats = {n: v["batch_stats"] for n, v in init.variables.items() if "batch_stats" in v}
  return params, stats


def gradient_step(state: TrainState, tx: optax.GradientTransformation,
                  loss_fn: Callable) -> tuple[TrainState, jax.Array, dict]:
  """One optimizer step on `loss_fn(params) -> (loss, (metrics, updated batch_stats))`.

  Returns (new state, loss, metrics); the step count advances and the
  updated BatchNorm statistics replace the old ones.
  """
  (loss, (metrics, new_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  new_state = state.replace(step=state.step + 1,
                            params=optax.apply_updates(state.params, updates),
                            batch_stats={**state.batch_stats, **new_stats},
                            opt_state=opt_state)
  return new_state, loss, metrics


def make_train_step(modules: Mapping[str, nn.Module], method: Method,
                    hparams: ml_collections.ConfigDict, tx: optax.GradientTransformation,
                    learning_rate: Callable[[jax.Array], jax.Array], total_steps: int,
                    seed: int) -> Callable[[TrainState, Batch], tuple[TrainState, dict]]:
  """`step(state, batch) -> (state, metrics)`; random keys derive from (seed, step)."""
  base_key = jax.random.fold_in(jax.random.key(seed), 1)  # 0 is initialisation's

  def train_step(state: TrainState, batch: Batch):
    rng = jax.random.fold_in(base_key, state.step)
    progress = jnp.asarray(state.step, jnp.float32) / total_steps

    def loss_fn(params):
      run = ModuleRunner(modules, params, state.batch_stats, train=True)
      loss, metrics = method_loss(run, batch, method, hparams, progress, rng)
      return loss, (metrics, run.updated_stats)

    new_state, loss, metrics = gradient_step(state, tx, loss_fn)
    return new_state, {**metrics, "loss": loss, "learning_rate": learning_rate(state.step)}

  return train_step


def make_predict_step(modules: Mapping[str, nn.Module]) -> Callable[[TrainState, jax.Array], dict]:
  """`predict_step(state, images) -> {features, logits}` per example, in float32.

  Evaluation keeps per-example outputs: accuracy needs only the logits, but the
  label-free selection criteria (tldomain/selection.py) need the features too.
  """

  def predict_step(state: TrainState, images: jax.Array):
    run = ModuleRunner(modules, state.params, state.batch_stats, train=False)
    outputs = classify(run, images)
    return {"features": outputs.features.astype(jnp.float32),
            "logits": outputs.logits.astype(jnp.float32)}

  return predict_step
