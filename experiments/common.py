"""Shared by the experiment scripts: config loading, run grids and result tables."""

import importlib.util
import json
import os
import shutil
from typing import Callable, Iterable

import ml_collections
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_config(path: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """`get_config(arg)` of a config file, as --config=path:arg would give it."""
  spec = importlib.util.spec_from_file_location(
      "tldomain_config_" + os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg) if arg is not None else module.get_config()


def run_grid(make_config: Callable[[str, int], ml_collections.ConfigDict],
             methods: Iterable[str], seeds: Iterable[int], workdir: str,
             resume: bool) -> list[dict]:
  """Trains every (seed, method) in its own workdir and returns the results.

  With `resume`, finished runs (results.json present) are read back and
  unfinished ones continue from their checkpoints; otherwise `workdir` is
  cleared first.
  """
  from tldomain import train  # pylint: disable=g-import-not-at-top
  from tldomain.console import quiet_library_logs  # pylint: disable=g-import-not-at-top
  quiet_library_logs()
  if not resume and os.path.isdir(workdir):
    shutil.rmtree(workdir)
  rows = []
  for seed in seeds:
    for method in methods:
      config = make_config(method, seed)
      run_dir = os.path.join(workdir, f"{method}_seed{seed}")
      finished = os.path.join(run_dir, "results.json")
      if resume and os.path.exists(finished):
        with open(finished, encoding="utf-8") as f:
          rows.append(json.load(f))
        continue
      print(f"\n== {method}, seed {seed}: {config.data.source} -> {config.data.target}, "
            f"{config.train.steps} steps, workdir {run_dir}", flush=True)
      rows.append(train.run(config, run_dir))
  return rows


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


def write_table(table: str, workdir: str) -> str:
  path = os.path.join(workdir, "table.md")
  os.makedirs(workdir, exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write(table + "\n")
  return path
