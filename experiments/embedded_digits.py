"""The main job: source-only vs DANN on the embedded digits task, then a table.

  python -m experiments.embedded_digits [--seeds=0,1,2] [--steps=N] [--workdir=DIR]

Runs the `embedded_digits` suite (experiments/suites.py, configs/embedded_digits.py)
and prints the final models' target test accuracy (no target label selects
anything) with each run's wall time; tables of the label-free selection
criteria come from `python -m experiments.collect --workdir=DIR --tsne=false`.
"""

import os
import shutil

from absl import app, flags

from experiments import common, report, suites

_WORKDIR = flags.DEFINE_string("workdir", os.path.join(common.ROOT, "workdirs", "embedded_digits"),
                               "The suite's workdir.")
_METHODS = flags.DEFINE_list("methods", ["source_only", "dann"], "Methods to compare.")
_SEEDS = flags.DEFINE_list("seeds", ["0"], "Seeds; the table shows mean and std over them.")
_STEPS = flags.DEFINE_integer("steps", None, "Override train.steps.")
_RESUME = flags.DEFINE_bool("resume", False, "Keep existing workdirs and resume "
                            "unfinished runs instead of starting afresh.")


def main(argv):
  del argv
  if not _RESUME.value and os.path.isdir(_WORKDIR.value):
    shutil.rmtree(_WORKDIR.value)
  overrides = [("train.steps", _STEPS.value)] if _STEPS.value else []
  runs = suites.runs(suites.get_suite("embedded_digits"), _METHODS.value,
                     [int(s) for s in _SEEDS.value], overrides=overrides)
  table = report.summary_table(suites.execute(runs, _WORKDIR.value))
  report.write(os.path.join(_WORKDIR.value, "table.md"), table + "\n")
  print("\nTarget test accuracy of the final model (target labels used for this "
        "report only):\n")
  print(table)


if __name__ == "__main__":
  app.run(main)
