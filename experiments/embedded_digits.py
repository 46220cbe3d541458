"""The main job: source-only vs DANN on the embedded digits task, then a table.

  python -m experiments.embedded_digits [--seeds=0,1,2] [--steps=N] [--workdir=DIR]

Each (method, seed) run trains in its own workdir with the config of
configs/embedded_digits.py; the table reports the final model's target test
accuracy (no target label selects anything) and each run's wall time.
"""

import importlib.util
import os
import shutil

from absl import app, flags, logging
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_FILE = os.path.join(ROOT, "configs", "embedded_digits.py")

_WORKDIR = flags.DEFINE_string("workdir", os.path.join(ROOT, "workdirs", "embedded_digits"),
                               "Parent folder of the runs' workdirs.")
_METHODS = flags.DEFINE_list("methods", ["source_only", "dann"], "Methods to compare.")
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds; the table shows mean and std over them.")
_STEPS = flags.DEFINE_integer("steps", None, "Override train.steps.")
_RESUME = flags.DEFINE_bool("resume", False, "Keep existing workdirs and resume "
                            "unfinished runs instead of starting afresh.")


def load_config(method: str):
  spec = importlib.util.spec_from_file_location("embedded_digits_config", CONFIG_FILE)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(method)


def results_table(rows: list[dict]) -> str:
  """Markdown: one line per method, mean ± std over seeds."""
  lines = ["| method | seeds | target test accuracy (%) | source val accuracy (%) | wall time (s) |",
           "|---|---|---|---|---|"]
  for method in dict.fromkeys(r["method"] for r in rows):
    runs = [r for r in rows if r["method"] == method]
    def stat(key, scale=100.0):
      values = scale * np.array([r[key] for r in runs])
      return f"{values.mean():.1f} ± {values.std():.1f}" if len(values) > 1 else f"{values[0]:.1f}"
    lines.append(f"| {method} | {len(runs)} | {stat('target_test_accuracy')} | "
                 f"{stat('source_val_accuracy')} | {stat('wall_seconds', 1.0)} |")
  return "\n".join(lines)


def main(argv):
  del argv
  from tldomain import train  # pylint: disable=g-import-not-at-top
  from tldomain.console import quiet_library_logs  # pylint: disable=g-import-not-at-top
  quiet_library_logs()
  if not _RESUME.value and os.path.isdir(_WORKDIR.value):
    shutil.rmtree(_WORKDIR.value)
  rows = []
  for seed in (int(s) for s in _SEEDS.value):
    for method in _METHODS.value:
      config = load_config(method)
      config.seed = seed
      if _STEPS.value:
        config.train.steps = _STEPS.value
      workdir = os.path.join(_WORKDIR.value, f"{method}_seed{seed}")
      print(f"\n== {method}, seed {seed}: {config.data.source} -> {config.data.target}, "
            f"{config.train.steps} steps, workdir {workdir}", flush=True)
      rows.append(train.run(config, workdir))
  table = results_table(rows)
  with open(os.path.join(_WORKDIR.value, "table.md"), "w", encoding="utf-8") as f:
    f.write(table + "\n")
  print("\nTarget test accuracy of the final model (target labels used for this "
        "report only):\n")
  print(table)
  logging.info("Table written to %s", os.path.join(_WORKDIR.value, "table.md"))


if __name__ == "__main__":
  app.run(main)
