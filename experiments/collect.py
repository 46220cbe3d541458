"""Tables and plots from a suite's workdir: tasks x methods, selection criteria, t-SNE.

  python -m experiments.collect --workdir=workdirs/digits_local --criterion=last --criterion=dev

Writes into --out (default: the workdir):
- table_<criterion>.md / .csv, per --criterion: target test accuracy (%) of the
  checkpoint the criterion picks, tasks by methods, mean ± std over seeds, and an average column;
- selection.md: for every criterion, the mean accuracy it gives and how far it
  falls below the oracle (the checkpoint picked with target labels);
- accuracy_curves.png: target test accuracy over training, mean over seeds;
- tsne_<task>.png and a_distance.json (--tsne): source and target features
  before adaptation (--tsne_methods' first) and after (its second), with the
  proxy A-distance between the domains;
- samples/<task>_<method>_seed<k>.png (--samples), and samples.png in the run's
  own folder, for every pixel-level run (PixelDA, or FDA images): source images,
  their generated or FDA versions, and target images (experiments/samples.py).

Criteria: last (final model), source_val, entropy, snd, dev, and oracle (reads
target labels: an upper bound, never an unsupervised result).
"""

import json
import os
import shutil

from absl import app, flags

from experiments import report, samples
from experiments.report import CRITERIA

_WORKDIR = flags.DEFINE_string("workdir", None, "A suite's workdir (run_suite's).")
_CRITERIA = flags.DEFINE_multi_enum("criterion", ["last"], CRITERIA, "Checkpoint "
                                    "selection for the tables, one table each (repeatable); "
                                    "'oracle' reads target labels.")
_OUT = flags.DEFINE_string("out", None, "Output folder (default: the workdir).")
_TSNE = flags.DEFINE_bool("tsne", True, "Also plot t-SNE and measure A-distance "
                          "(restores two runs' final checkpoints).")
_TSNE_METHODS = flags.DEFINE_list("tsne_methods", ["source_only", "dann"],
                                  "Before and after adaptation.")
_TSNE_TASKS = flags.DEFINE_list("tsne_tasks", None, "Tasks to embed (default: all).")
_TSNE_SEED = flags.DEFINE_integer("tsne_seed", 0, "Seed of the runs to embed.")
_TSNE_EXAMPLES = flags.DEFINE_integer("tsne_examples", 500, "Examples per domain.")
_SAMPLES = flags.DEFINE_bool("samples", True, "Sample grids of pixel-level runs "
                             "(restores PixelDA runs' latest checkpoints).")


def main(argv):
  del argv
  workdir = os.path.abspath(_WORKDIR.value)
  out = os.path.abspath(_OUT.value or workdir)
  os.makedirs(out, exist_ok=True)
  rows = report.load_results(workdir)
  if not rows:
    raise SystemExit(f"No results.json under {workdir}; run experiments.run_suite first.")
  for criterion in _CRITERIA.value:
    md, csv_text = report.task_table(rows, criterion)
    title = (f"Target test accuracy (%) of the checkpoint chosen by '{criterion}', "
             f"mean ± std over seeds" + (" (ORACLE: chosen with target labels)"
                                         if criterion == "oracle" else ""))
    report.write(os.path.join(out, f"table_{criterion}.md"), f"{title}\n\n{md}\n")
    report.write(os.path.join(out, f"table_{criterion}.csv"), csv_text)
    print(f"{title}\n\n{md}\n")
  if any("selected" in r for r in rows):
    sel = report.selection_table(rows)
    report.write(os.path.join(out, "selection.md"),
                 "Model selection over all runs\n\n" + sel + "\n")
    print(f"Model selection over all runs\n\n{sel}\n")
    report.plot_curves(rows, os.path.join(out, "accuracy_curves.png"))
  if _TSNE.value:
    distances = {}
    for task in _TSNE_TASKS.value or dict.fromkeys(r["task"] for r in rows):
      distances[task] = report.plot_tsne(workdir, task, _TSNE_METHODS.value, _TSNE_SEED.value,
                                  _TSNE_EXAMPLES.value, os.path.join(out, f"tsne_{task}.png"))
    report.write(os.path.join(out, "a_distance.json"), json.dumps(distances, indent=2) + "\n")
    print("Proxy A-distance between source and target features:",
          json.dumps(distances, indent=2))
  if _SAMPLES.value:
    for run_dir in samples.pixel_level_runs(workdir):
      samples.plot_samples(run_dir, os.path.join(run_dir, "samples.png"))
      name = "_".join(os.path.relpath(run_dir, workdir).split(os.sep)) or "run"
      os.makedirs(os.path.join(out, "samples"), exist_ok=True)
      shutil.copyfile(os.path.join(run_dir, "samples.png"),
                      os.path.join(out, "samples", f"{name}.png"))
      print(f"Sample grid: {os.path.join(run_dir, 'samples.png')}")
  print(f"Written to {out}")


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(main)
