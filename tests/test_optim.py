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


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_optimizers_build_and_step(small_config, name):
  config = small_config("source_only")
  config.optim.name = name
  compiled, mesh = compiled_dann(config)
  state, metrics = compiled.train_step(compiled.initial_state, on_mesh(synthetic_batch(8), mesh))
  assert int(state.step) == 1 and np.isfinite(float(metrics["loss"]))


def test_unknown_optimizer_lists_valid_names(small_config):
  config = small_config("source_only")
  config.optim.name = "lamb"
  with pytest.raises(ValueError, match="Valid names: adam, adamw, sgd"):
    compiled_dann(config)
