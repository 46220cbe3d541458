"""Every method on USPS -> MNIST (the files in ../shared/data), same seeds and steps.

  python -m experiments.digits_sweep --manual_dir=../shared/data --seeds=0,1,2 --steps=1000

Runs the `digits_local` suite's usps_to_mnist task (experiments/suites.py:
configs/digits.py, MNIST = its test split, adapted on without labels) for each
(method, seed), then prints target test accuracy of the final models (mean ±
std over seeds, no target-label selection), wall time, and each method's gain
over source-only. Finished runs are reused, so the command also resumes.
"""

import os

from absl import app, flags

from experiments import common, report, suites

_MANUAL_DIR = flags.DEFINE_string("manual_dir", os.path.join(common.ROOT, "..", "shared", "data"),
                                  "Folder holding usps/usps.h5 and mnist/t10k-*.")
_METHODS = flags.DEFINE_list("methods", list(suites.ALL_METHODS), "Methods to run.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
_STEPS = flags.DEFINE_integer("steps", 1000, "train.steps of every run.")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 200, "train.eval_every of every run.")
_WORKDIR = flags.DEFINE_string("workdir", os.path.join(common.ROOT, "workdirs", "digits_local"),
                               "The suite's workdir (shared with run_suite's digits_local).")


def main(argv):
  del argv
  overrides = [("data.manual_dir", os.path.abspath(_MANUAL_DIR.value)),
               ("train.steps", _STEPS.value), ("train.eval_every", _EVAL_EVERY.value)]
  runs = suites.runs(suites.get_suite("digits_local"), _METHODS.value,
                     [int(s) for s in _SEEDS.value], ["usps_to_mnist"], overrides)
  rows = suites.execute(runs, _WORKDIR.value)
  table = report.summary_table(rows) + "\n\n" + report.gains_over(rows)
  path = os.path.join(_WORKDIR.value, "usps_to_mnist_sweep.md")
  report.write(path, table + "\n")
  print(f"\nUSPS -> MNIST, target test accuracy of the final models:\n\n{table}\n\n"
        f"(written to {path})")


if __name__ == "__main__":
  app.run(main)
