import jax
import numpy as np
import pytest

from tldomain import optim, sharding
from tldomain.methods import get_method
from tldomain.compute import compile_steps

from helpers import flat, on_mesh, synthetic_batch


def compiled_dann(config):
  mesh = sharding.make_mesh(jax.devices()[:1])
  return compile_steps(config, get_method(config.method.name), 10, mesh), mesh


def test_every_parameter_lands_in_its_module_group(small_config):
  compiled, _ = compiled_dann(small_config("dann"))
  labels = flat(optim.param_labels(compiled.initial_state.params))
  expected_prefix = {"backbone": "['backbone']", "bottleneck": "['bottleneck']",
                     "head": "['head']", "discriminator": "['discriminator']"}
  assert set(labels.values()) == set(expected_prefix)
  for path, group in labels.items():
    assert path.startswith(expected_prefix[group]), (path, group)
  # Spot checks on concrete paths.
  assert labels["['backbone']['conv0']['kernel']"] == "backbone"
  assert labels["['head']['dense']['kernel']"] == "head"
  assert labels["['discriminator']['logit']['bias']"] == "discriminator"


def test_group_rules_take_precedence_over_module_names():
  params = {"backbone": {"conv0": {"kernel": 0}, "conv1": {"kernel": 0}}, "head": {"w": 0}}
  labels = optim.param_labels(params, [(r"^backbone/conv1/", "top"), (r"/w$", "last")])
  assert labels == {"backbone": {"conv0": {"kernel": "backbone"}, "conv1": {"kernel": "top"}},
                    "head": {"w": "last"}}


def test_frozen_group_does_not_move_while_others_do(small_config):
  config = small_config("dann")
  config.optim.groups.backbone.frozen = True
  compiled, mesh = compiled_dann(config)
  before = flat(compiled.initial_state.params)
  state, metrics = compiled.train_step(compiled.initial_state, on_mesh(synthetic_batch(8), mesh))
  after = flat(state.params)
  assert np.isfinite(float(metrics["loss"]))
  for path in before:
    moved = not np.array_equal(before[path], after[path])
    if path.startswith("['backbone']"):
      assert not moved, f"frozen parameter {path} changed"
    else:
      assert moved, f"trainable parameter {path} did not change"


def test_learning_rate_multiplier_scales_the_first_update(small_config):
  updates = {}
  for mult in (1.0, 0.1):
    config = small_config("dann")
    config.optim.groups.backbone.lr_mult = mult
    compiled, mesh = compiled_dann(config)
    before = flat(compiled.initial_state.params)
    state, _ = compiled.train_step(compiled.initial_state, on_mesh(synthetic_batch(8), mesh))
    after = flat(state.params)
    updates[mult] = {p: after[p] - before[p] for p in before}
  for path, full in updates[1.0].items():
    scale = 0.1 if path.startswith("['backbone']") else 1.0
    np.testing.assert_allclose(updates[0.1][path], scale * full, rtol=2e-4, atol=2e-7,
                               err_msg=path)


def np_updates(name, params, grads, lrs, wd, momentum=0.9, b1=0.9, b2=0.999, eps=1e-8):
  """Each step's parameters, by hand: PyTorch's SGD (Nesterov) and Adam with
  coupled L2 weight decay, and AdamW with decoupled decay."""
  p, m, v, trace, out = params.copy(), 0.0, 0.0, 0.0, []
  for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
    if name != "adamw":
      g = g + wd * p  # coupled: the decay goes through the optimizer
    if name == "sgd":
      trace = momentum * trace + g
      p = p - lr * (g + momentum * trace)
    else:
      m = b1 * m + (1 - b1) * g
      v = b2 * v + (1 - b2) * g * g
      step = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
      p = p - lr * (step + (wd * p if name == "adamw" else 0.0))
    out.append(p)
  return out


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_optimizers_build_and_step(small_config, name):
  config = small_config("source_only")
  config.optim.name = name
  compiled, mesh = compiled_dann(config)
  state, metrics = compiled.train_step(compiled.initial_state, on_mesh(synthetic_batch(8), mesh))
  assert int(state.step) == 1 and np.isfinite(float(metrics["loss"]))
  # The optimizer the step uses is the named one: three steps of it, on two
  # groups (one at lr x 0.1) with weight decay, against the update rules by hand.
  config.optim.weight_decay, config.optim.groups.backbone.lr_mult = 0.05, 0.1
  rng = np.random.RandomState(0)
  params = {"backbone": {"w": rng.randn(5)}, "head": {"w": rng.randn(3)}}
  grads = [{"backbone": {"w": rng.randn(5)}, "head": {"w": rng.randn(3)}} for _ in range(3)]
  total_steps = 10
  optimizer = optim.build_optimizer(config.optim, params, total_steps)
  opt_state, current = optimizer.init(params), params
  steps = []
  for g in grads:
    updates, opt_state = optimizer.update(g, opt_state, current)
    current = jax.tree.map(lambda p, u: p + u, current, updates)
    steps.append(current)
  lrs = [config.optim.lr * (1 + config.optim.lr_alpha * t / total_steps) ** -config.optim.lr_beta
         for t in range(3)]
  for group, mult in (("backbone", 0.1), ("head", 1.0)):
    expected = np_updates(name, params[group]["w"], [g[group]["w"] for g in grads],
                          [mult * lr for lr in lrs], 0.05)
    for t, (got, want) in enumerate(zip(steps, expected)):
      np.testing.assert_allclose(got[group]["w"], want, rtol=1e-5, atol=1e-7,
                                 err_msg=f"{name}, {group}, step {t + 1}")


def test_unknown_optimizer_lists_valid_names(small_config):
  config = small_config("source_only")
  config.optim.name = "lamb"
  with pytest.raises(ValueError, match="Valid names: adam, adamw, sgd"):
    compiled_dann(config)
