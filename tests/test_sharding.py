import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from tldomain import sharding

HERE = os.path.dirname(os.path.abspath(__file__))


def test_four_devices_match_one_device():
  """Same global batch on a 4-device mesh and a 1-device mesh: same loss and parameters."""
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
             JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, os.path.join(HERE, "multi_device_step.py")],
                       env=env, capture_output=True, text=True, timeout=600, check=False)
  assert out.returncode == 0, out.stderr[-4000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result["devices"] == [1, 4]
  assert result["same_keys"]
  np.testing.assert_allclose(result["losses"][0], result["losses"][1], atol=1e-5)
  assert result["max_param_diff"] < 1e-5
  assert result["max_stats_diff"] < 1e-5


def test_batch_size_must_divide_device_count():
  mesh = sharding.make_mesh(jax.devices()[:1])
  sharding.check_batch_size(8, mesh)  # one device: anything goes

  class FakeMesh:
    size = 4

  with pytest.raises(ValueError, match=r"batch size \(10\) must be divisible by the number "
                     r"of devices \(4\)"):
    sharding.check_batch_size(10, FakeMesh())
