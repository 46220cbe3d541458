"""The main job: source-only vs DANN on the embedded digits task, then a table.

  python -m experiments.embedded_digits [--seeds=0,1,2] [--steps=N] [--workdir=DIR]

Each (method, seed) run trains in its own workdir with the config of
configs/embedded_digits.py; the table reports the final model's target test
accuracy (no target label selects anything) and each run's wall time.
"""

import os

from absl import app, flags

from experiments import common

CONFIG_FILE = os.path.join(common.ROOT, "configs", "embedded_digits.py")

_WORKDIR = flags.DEFINE_string("workdir", os.path.join(common.ROOT, "workdirs", "embedded_digits"),
                               "Parent folder of the runs' workdirs.")
_METHODS = flags.DEFINE_list("methods", ["source_only", "dann"], "Methods to compare.")
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds; the table shows mean and std over them.")
_STEPS = flags.DEFINE_integer("steps", None, "Override train.steps.")
_RESUME = flags.DEFINE_bool("resume", False, "Keep existing workdirs and resume "
                            "unfinished runs instead of starting afresh.")


def make_config(method: str, seed: int):
  config = common.load_config(CONFIG_FILE, method)
  config.seed = seed
  if _STEPS.value:
    config.train.steps = _STEPS.value
  return config


def main(argv):
  del argv
  rows = common.run_grid(make_config, _METHODS.value, [int(s) for s in _SEEDS.value],
                         _WORKDIR.value, _RESUME.value)
  table = common.results_table(rows)
  common.write_table(table, _WORKDIR.value)
  print("\nTarget test accuracy of the final model (target labels used for this "
        "report only):\n")
  print(table)


if __name__ == "__main__":
  app.run(main)
