"""Runs a benchmark suite here, one run after another, or prints its commands.

  python -m experiments.run_suite --suite=digits_local --manual_dir=../shared/data \
      --set=train.steps=1000 --seeds=0,1,2
  python -m experiments.run_suite --suite=office31 --print_commands   # for a scheduler

Finished runs (results.json present) are skipped and unfinished ones resume from
their checkpoints, so the same command continues an interrupted sweep. Then
`python -m experiments.collect --workdir=...` makes the tables and plots.
"""

import os

from absl import app, flags

from experiments import common, suites

_SUITE = flags.DEFINE_enum("suite", None, list(suites.SUITES), "Suite to run.")
_METHODS = flags.DEFINE_list("methods", None, "Methods (default: the suite's).")
_SEEDS = flags.DEFINE_list("seeds", None, "Seeds (default: the suite's, 0,1,2).")
_TASKS = flags.DEFINE_list("tasks", None, "Only these tasks, e.g. usps_to_mnist.")
_SET = flags.DEFINE_multi_string("set", [], "Config override key=value for every run, "
                                 "e.g. --set=train.steps=1000 (repeatable).")
_MANUAL_DIR = flags.DEFINE_string("manual_dir", None, "Folder of manually downloaded "
                                  "dataset files (sets data.manual_dir).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data dir (sets data.data_dir).")
_WORKDIR = flags.DEFINE_string("workdir", None, "The suite's workdir "
                               "(default workdirs/<suite>).")
_PRINT = flags.DEFINE_bool("print_commands", False, "Print one command per unfinished "
                           "run instead of running them.")
_PROGRESS = flags.DEFINE_bool("progress_bar", True, "Show each run's progress bar.")
flags.mark_flag_as_required("suite")


def main(argv):
  del argv
  suite = suites.get_suite(_SUITE.value)
  overrides = [suites.parse_override(s) for s in _SET.value]
  if _MANUAL_DIR.value:
    overrides.append(("data.manual_dir", os.path.abspath(_MANUAL_DIR.value)))
  if _DATA_DIR.value:
    overrides.append(("data.data_dir", os.path.abspath(_DATA_DIR.value)))
  workdir = os.path.abspath(_WORKDIR.value or os.path.join(common.ROOT, "workdirs", suite.name))
  if suite.shared_features and not any(k == "train.features_cache" for k, _ in overrides):
    overrides.append(("train.features_cache", os.path.join(workdir, "features")))
  seeds = [int(s) for s in _SEEDS.value] if _SEEDS.value else None
  suite_runs = suites.runs(suite, _METHODS.value, seeds, _TASKS.value, overrides)
  if _PRINT.value:
    for run in suite_runs:
      if not suites.is_finished(run, workdir):
        print(run.command(workdir))
    return
  results = suites.execute(suite_runs, workdir, _PROGRESS.value)
  print(f"\n{len(results)} of {len(suite_runs)} runs finished in {workdir}. Tables and "
        f"plots: python -m experiments.collect --workdir={workdir}")


if __name__ == "__main__":
  app.run(main)
