import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "embedded_digits.py")


def cli(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, "-m", "tldomain.main", *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=600, check=False)


def small_run_flags(data_dir: str, workdir: str) -> list[str]:
  return [f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
          "--config.train.steps=6", "--config.train.eval_every=6",
          "--config.data.batch_size=8", "--config.model.bottleneck_dim=16",
          "--config.train.progress_bar=False", "--config.selection.num_examples=64"]


def test_cli_trains_with_overrides(data_dir, tmp_path):
  workdir = str(tmp_path / "run")
  out = cli(f"--config={CONFIG}:dann", *small_run_flags(data_dir, workdir),
            "--config.method.trade_off=0.5", "--config.optim.groups.backbone.lr_mult=0.1")
  assert out.returncode == 0, out.stderr[-3000:]
  results = json.load(open(os.path.join(workdir, "results.json")))
  assert results["method"] == "dann" and results["steps"] == 6
  config = json.load(open(os.path.join(workdir, "config.json")))
  assert config["method"]["trade_off"] == 0.5
  assert config["optim"]["groups"]["backbone"]["lr_mult"] == 0.1


def test_loss_from_a_user_file_runs_from_the_cli(data_dir, tmp_path):
  user_file = tmp_path / "my_losses.py"
  user_file.write_text(textwrap.dedent('''
      """A user's method, outside the package: source CE plus target entropy."""
      import jax
      import jax.numpy as jnp
      from tldomain.methods import Method, register
      from tldomain.methods.losses import cross_entropy

      def entropy_loss(inputs, hparams):
        ce = cross_entropy(inputs.source.logits, inputs.labels)
        p = jax.nn.softmax(inputs.target.logits)
        entropy = -(p * jnp.log(p + 1e-8)).sum(-1).mean()
        return ce + hparams.weight * entropy, {"entropy": entropy}

      register(Method(name="my_entropy", loss=entropy_loss, defaults={"weight": 0.1}))
  '''))
  workdir = str(tmp_path / "run")
  out = cli(f"--import={user_file}", f"--config={CONFIG}:my_entropy",
            *small_run_flags(data_dir, workdir), "--config.method.weight=0.3")
  assert out.returncode == 0, out.stderr[-3000:]
  assert json.load(open(os.path.join(workdir, "results.json")))["method"] == "my_entropy"
  metrics = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert any("train/entropy" in m for m in metrics)


def test_cli_unknown_method_lists_valid_names(tmp_path):
  out = cli(f"--config={CONFIG}:dnn", f"--workdir={tmp_path}")
  assert out.returncode != 0
  assert "Unknown method 'dnn'. Valid names: adabn, cdan, cdan_e, coral, dann" in out.stderr


def test_main_job_prints_a_table_for_both_methods(data_dir, tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TLDOMAIN_DATA_DIR=data_dir)
  out = subprocess.run(
      [sys.executable, "-m", "experiments.embedded_digits", "--steps=4",
       f"--workdir={tmp_path}", "--seeds=0"],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  table = open(os.path.join(tmp_path, "table.md")).read()
  assert table in out.stdout
  rows = [line for line in table.splitlines() if line.startswith("| uci_digits_to_uci_digits_m |")]
  assert [row.split(" | ")[1] for row in rows] == ["source_only", "dann"]
  for name in ("source_only", "dann"):
    results = json.load(open(os.path.join(tmp_path, "uci_digits_to_uci_digits_m", name, "seed0",
                                          "results.json")))
    assert results["steps"] == 4
    assert f"{100 * results['target_test_accuracy']:.1f}" in table
