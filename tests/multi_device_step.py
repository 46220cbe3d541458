"""Run by test_sharding.py in a process with 4 host devices (XLA_FLAGS set there).

Takes one DANN train step on the same global batch and initial state with a
1-device mesh and with a 4-device mesh, and prints the largest differences.
"""

import json
import sys

import jax
import numpy as np

from tldomain import defaults, sharding
from tldomain.methods import get_method
from tldomain.compute import compile_steps

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from helpers import flat, on_mesh, synthetic_batch  # noqa: E402


def one_run(devices, steps: int = 2):
  config = defaults.set_method(defaults.base_config(), "dann")
  config.model.bottleneck_dim = 32
  config.method.discriminator_hidden = (32, 32)
  config.train.steps = 10
  mesh = sharding.make_mesh(devices)
  compiled = compile_steps(config, get_method("dann"), 10, mesh)
  state, losses = compiled.initial_state, []
  for i in range(steps):
    state, metrics = compiled.train_step(state, on_mesh(synthetic_batch(16, seed=i), mesh))
    losses.append(float(metrics["loss"]))
  return losses, flat(state.params), flat(state.batch_stats), mesh.size


def main():
  assert jax.device_count() == 4, jax.devices()
  losses1, params1, stats1, n1 = one_run(jax.devices()[:1])
  losses4, params4, stats4, n4 = one_run(jax.devices())
  print(json.dumps({
      "devices": [n1, n4],
      "losses": [losses1, losses4],
      "max_param_diff": max(float(np.abs(params1[k] - params4[k]).max()) for k in params1),
      "max_stats_diff": max(float(np.abs(stats1[k] - stats4[k]).max()) for k in stats1),
      "same_keys": sorted(params1) == sorted(params4),
  }))


if __name__ == "__main__":
  main()
