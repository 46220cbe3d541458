import math

import ml_collections
import numpy as np
import pytest

from tldomain import defaults, optim
from tldomain.methods.dann import dann_coefficient


@pytest.mark.parametrize("progress, expected", [
    (0.0, 0.0),
    (0.5, 2.0 / (1.0 + math.exp(-5.0)) - 1.0),  # 0.98661
    (1.0, 2.0 / (1.0 + math.exp(-10.0)) - 1.0),  # 0.99991
])
def test_dann_coefficient(progress, expected):
  assert float(dann_coefficient(progress, 10.0)) == pytest.approx(expected, abs=1e-6)


def test_dann_coefficient_gamma_changes_the_ramp():
  assert float(dann_coefficient(0.1, 10.0)) == pytest.approx(2 / (1 + math.exp(-1)) - 1, abs=1e-6)
  assert float(dann_coefficient(0.1, 1.0)) < float(dann_coefficient(0.1, 10.0))


@pytest.mark.parametrize("step, expected", [
    (0, 0.01),
    (500, 0.01 * 6.0 ** -0.75),  # p = 0.5: (1 + 10 * 0.5) ** -0.75
    (1000, 0.01 * 11.0 ** -0.75),
    (2000, 0.01 * 11.0 ** -0.75),  # past the end: held at p = 1
])
def test_inverse_decay_learning_rate(step, expected):
  config = defaults.base_config().optim
  schedule = optim.learning_rate_schedule(config, total_steps=1000)
  assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)


def test_unknown_schedule_lists_valid_names():
  config = ml_collections.ConfigDict({"schedule": "linear", "lr": 0.1})
  with pytest.raises(ValueError, match="constant, cosine, inverse_decay"):
    optim.learning_rate_schedule(config, 10)


def test_other_schedules():
  config = defaults.base_config().optim
  config.schedule = "constant"
  assert float(optim.learning_rate_schedule(config, 10)(7)) == pytest.approx(0.01)
  config.schedule = "cosine"
  values = [float(optim.learning_rate_schedule(config, 10)(s)) for s in (0, 5, 10)]
  np.testing.assert_allclose(values, [0.01, 0.005, 0.0], atol=1e-8)
