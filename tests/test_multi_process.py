"""Two processes with two host devices each, joined by jax.distributed on loopback,
train like one process with four devices."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from helpers import flat, restore_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "embedded_digits.py")
STEPS = 6


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def command(data_dir: str, workdir: str, *extra: str) -> list[str]:
  return [sys.executable, "-m", "tldomain.main", f"--config={CONFIG}:dann",
          f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
          f"--config.train.steps={STEPS}", "--config.train.eval_every=3",
          "--config.train.log_every=1", "--config.data.batch_size=8",
          "--config.model.bottleneck_dim=16", "--config.method.discriminator_hidden=(16, 16)",
          "--config.train.progress_bar=False", "--config.selection.num_examples=64", *extra]


def env_with_devices(n: int) -> dict:
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", JAX_PLATFORMS="cpu",
              XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")


def losses(workdir: str) -> list[float]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [r["train/loss"] for r in map(json.loads, f) if "train/loss" in r]


def params(workdir: str) -> dict:
  return flat(restore_checkpoint(workdir, STEPS)["params"])


def test_two_processes_match_one_process_with_four_devices(data_dir, tmp_path):
  single, multi = str(tmp_path / "single"), str(tmp_path / "multi")
  out = subprocess.run(command(data_dir, single), cwd=ROOT, env=env_with_devices(4),
                       capture_output=True, text=True, timeout=600, check=False)
  assert out.returncode == 0, out.stderr[-3000:]

  address = f"127.0.0.1:{free_port()}"
  processes = [subprocess.Popen(
      command(data_dir, multi, f"--config.distributed.coordinator_address={address}",
              "--config.distributed.num_processes=2", f"--config.distributed.process_id={i}"),
      cwd=ROOT, env=env_with_devices(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True) for i in range(2)]
  for p in processes:
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-3000:]

  results = json.load(open(os.path.join(multi, "results.json")))
  assert results["num_devices"] == 4
  np.testing.assert_allclose(losses(multi), losses(single), atol=1e-5)
  assert len(losses(multi)) == STEPS
  a, b = params(single), params(multi)
  assert sorted(a) == sorted(b)
  for key in a:
    np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)
