"""Tables of the few-shot, source-free and test-time runs on USPS -> MNIST.

  python -m experiments.fewshot_table --workdir=WORKDIR/usps_to_mnist

Reads <workdir>/<method>/seed<k>/results.json (the layout of
experiments/digits_fewshot.sh and of the digits_local suite) and prints target
test accuracy of the final models (mean ± std over seeds), the online
accuracy where the method has one (TENT), adaptation and wall seconds, and
each method's gain over source-only per seed pair.
"""

import glob
import json
import os

from absl import app, flags
import numpy as np

_WORKDIR = flags.DEFINE_string("workdir", None, "Folder holding <method>/seed<k>/.", required=True)
_METHODS = flags.DEFINE_list("methods", None, "Methods (folder names) in table order.")


def stats(values) -> str:
  values = [v for v in values if v is not None]
  if not values:
    return "–"
  return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


def seconds(values) -> str:
  values = [v for v in values if v is not None]
  return f"{np.mean(values):.0f}" if values else "–"


def main(argv):
  del argv
  methods = _METHODS.value or sorted(os.listdir(_WORKDIR.value))
  rows = ["| method | seeds | target test accuracy (%) | online accuracy (%) | "
          "adaptation (s) | wall time (s) | gain over source_only (points) |",
          "|---|---|---|---|---|---|---|"]
  runs = {}
  for method in methods:
    for path in sorted(glob.glob(os.path.join(_WORKDIR.value, method, "seed*", "results.json"))):
      with open(path, encoding="utf-8") as f:
        runs.setdefault(method, {})[int(path.split("seed")[-1].split("/")[0])] = json.load(f)
  base = runs.get("source_only", {})
  for method in methods:
    seeds = runs.get(method, {})
    if not seeds:
      continue
    acc = [r["target_test_accuracy"] for r in seeds.values()]
    gains = [seeds[s]["target_test_accuracy"] - base[s]["target_test_accuracy"]
             for s in seeds if s in base]
    gain = f"{100 * np.mean(gains):+.1f}" if gains and method != "source_only" else ""
    rows.append(f"| {method} | {len(seeds)} | {stats(acc)} | "
                f"{stats([r.get('online_target_test_accuracy') for r in seeds.values()])} | "
                f"{seconds([r.get('adapt_seconds') for r in seeds.values()])} | "
                f"{seconds([r['wall_seconds'] for r in seeds.values()])} | {gain} |")
  print("\n".join(rows))


if __name__ == "__main__":
  app.run(main)
