"""Every method on one digits task with the same seeds and steps, then a table.

  python -m experiments.digits_sweep --manual_dir=../shared/data \
      --source=usps --target=mnist --target_train_split=test --seeds=0,1,2

Runs configs/digits.py for each (method, seed), then prints and writes target
test accuracy (mean ± std over seeds, final model, no target-label selection)
and wall time per method, with each method's gain over source-only.
"""

import os

from absl import app, flags
import numpy as np

from experiments import common

CONFIG_FILE = os.path.join(common.ROOT, "configs", "digits.py")
ALL_METHODS = ["source_only", "dann", "mmd", "jan", "coral", "cdan", "cdan_e", "mcc", "mdd",
               "entropy", "importance_weighting"]

_SOURCE = flags.DEFINE_string("source", "usps", "Source domain.")
_TARGET = flags.DEFINE_string("target", "mnist", "Target domain.")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", "", "Folder of manually downloaded files.")
_TARGET_TRAIN_SPLIT = flags.DEFINE_string(
    "target_train_split", "", "Target split to adapt on ('' = the domain's train split; "
    "'test' where only the test split is on disk).")
_METHODS = flags.DEFINE_list("methods", ALL_METHODS, "Methods to run.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
_STEPS = flags.DEFINE_integer("steps", None, "Override train.steps.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Parent folder of the runs' workdirs "
                               "(default workdirs/digits_<source>_<target>).")
_RESUME = flags.DEFINE_bool("resume", True, "Reuse finished runs and resume unfinished ones.")


def make_config(method: str, seed: int):
  config = common.load_config(CONFIG_FILE, f"{method},{_SOURCE.value},{_TARGET.value}")
  config.seed = seed
  config.data.manual_dir = _MANUAL_DIR.value
  config.data.target_train_split = _TARGET_TRAIN_SPLIT.value
  if _STEPS.value:
    config.train.steps = _STEPS.value
  config.train.progress_bar = False
  return config


def gains_over_source_only(rows: list[dict]) -> str:
  by_method: dict[str, list[float]] = {}
  for r in rows:
    by_method.setdefault(r["method"], []).append(100 * r["target_test_accuracy"])
  if "source_only" not in by_method:
    return ""
  base = np.mean(by_method["source_only"])
  return "\n".join(f"- {m}: {np.mean(v) - base:+.1f} points over source-only"
                   for m, v in by_method.items() if m != "source_only")


def main(argv):
  del argv
  workdir = _WORKDIR.value or os.path.join(
      common.ROOT, "workdirs", f"digits_{_SOURCE.value}_{_TARGET.value}")
  rows = common.run_grid(make_config, _METHODS.value, [int(s) for s in _SEEDS.value],
                         workdir, _RESUME.value)
  table = common.results_table(rows) + "\n\n" + gains_over_source_only(rows)
  path = common.write_table(table, workdir)
  print(f"\n{_SOURCE.value} -> {_TARGET.value}, target test accuracy of the final models:\n")
  print(table)
  print(f"\n(written to {path})")


if __name__ == "__main__":
  app.run(main)
