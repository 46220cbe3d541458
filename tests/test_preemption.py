"""Runs killed or preempted part-way, then restarted, through the CLI."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from helpers import flat, restore_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "embedded_digits.py")


DANN = ("dann", "--config.method.discriminator_hidden=(16, 16)")
# PixelDA: the most state to restore (generator, image discriminator, their optimizers).
PIXELDA = ("pixelda", "--config.method.generator_width=4", "--config.method.generator_blocks=1",
           "--config.method.discriminator_widths=(4, 8)")


def start(data_dir: str, workdir: str, steps: int, method=DANN) -> subprocess.Popen:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  name, *method_flags = method
  return subprocess.Popen(
      [sys.executable, "-m", "tldomain.main", f"--config={CONFIG}:{name}", f"--workdir={workdir}",
       f"--config.data.data_dir={data_dir}", f"--config.train.steps={steps}",
       "--config.train.eval_every=5", "--config.train.log_every=5",
       "--config.data.batch_size=8", "--config.model.bottleneck_dim=16", *method_flags,
       "--config.train.progress_bar=False", "--config.selection.num_examples=64"],
      cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def checkpoint_steps(workdir: str) -> list[int]:
  folder = os.path.join(workdir, "checkpoints")
  return sorted(int(s) for s in os.listdir(folder) if s.isdigit()) if os.path.isdir(folder) else []


def wait_for(predicate, process: subprocess.Popen, timeout: float = 300.0) -> None:
  deadline = time.time() + timeout
  while not predicate():
    assert process.poll() is None, process.communicate()[1][-3000:]
    assert time.time() < deadline, "timed out"
    time.sleep(0.2)


def final_params(workdir: str, step: int) -> dict:
  return flat(restore_checkpoint(workdir, step)["params"])


def test_sigkill_then_restart_ends_equal_to_an_uninterrupted_run(data_dir, tmp_path):
  """With PixelDA, whose state has the most parts; DANN's resume is the SIGTERM test's."""
  whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
  process = start(data_dir, whole, steps=30, method=PIXELDA)
  assert process.wait(timeout=600) == 0, process.communicate()[1][-3000:]

  process = start(data_dir, killed, steps=30, method=PIXELDA)
  wait_for(lambda: any(s >= 10 for s in checkpoint_steps(killed)), process)
  process.send_signal(signal.SIGKILL)
  process.wait(timeout=60)
  assert not os.path.exists(os.path.join(killed, "results.json"))
  restarted = start(data_dir, killed, steps=30, method=PIXELDA)
  _, err = restarted.communicate(timeout=600)
  assert restarted.returncode == 0, err[-3000:]

  a, b = final_params(whole, 30), final_params(killed, 30)
  assert {k for k in a if k.startswith(("['generator']", "['discriminator']"))}
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_sigterm_saves_a_checkpoint_of_the_current_step(data_dir, tmp_path):
  workdir = str(tmp_path / "preempted")
  metrics = os.path.join(workdir, "metrics.jsonl")
  process = start(data_dir, workdir, steps=100000)
  wait_for(lambda: os.path.exists(metrics) and os.path.getsize(metrics) > 0, process)
  process.send_signal(signal.SIGTERM)
  _, err = process.communicate(timeout=120)
  # 143 = 128 + SIGTERM: schedulers read it as ended by the signal (requeue), not success.
  assert process.returncode == 143, err[-3000:]
  assert "SIGTERM was received" in err
  steps = checkpoint_steps(workdir)
  reached = int(err.split("Stopped after step ")[1].split(" ")[0])
  assert reached in steps and reached == max(steps)
  assert not os.path.exists(os.path.join(workdir, "results.json"))
