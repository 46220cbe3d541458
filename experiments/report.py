"""Results of a suite's runs as tables and plots (used by experiments/collect.py)."""

import collections
import csv
import io
import json
import os
from typing import Sequence

import numpy as np

from tldomain import selection

CRITERIA = ("last", *selection.CRITERIA)


def load_results(workdir: str) -> list[dict]:
  """Every run's results.json under `workdir`, with `task` taken from its path.

  Runs that diverged (failed.json) come back with `failed` set and no accuracy.
  """
  rows = []
  for root, _, files in sorted(os.walk(workdir)):
    for name in ("results.json", "failed.json"):
      if name in files:
        with open(os.path.join(root, name), encoding="utf-8") as f:
          row = json.load(f)
        parts = os.path.relpath(root, workdir).split(os.sep)
        row["task"] = parts[0] if len(parts) >= 3 else f"{row.get('source')}_to_{row.get('target')}"
        if len(parts) >= 3 and name == "results.json":
          # The suite's name for the run (its folder), which a row is reported under.
          row["method"] = parts[-2]
        if name == "failed.json":
          row.update(failed=True, method=parts[-2], seed=int(parts[-1].removeprefix("seed")))
        rows.append(row)
  return rows


def accuracy(row: dict, criterion: str) -> float | None:
  """Target test accuracy of the checkpoint `criterion` picks in this run; None
  when the run cannot compute that criterion (no source data in a source-free
  or test-time run)."""
  if criterion == "last":
    return row["target_test_accuracy"]
  if "selected" not in row:
    raise ValueError(f"Run {row['task']}/{row['method']}/seed{row['seed']} recorded no "
                     "selection criteria (features mode or an older version); use "
                     "--criterion=last.")
  picked = row["selected"].get(criterion)
  return None if picked is None else picked["target_test_accuracy"]


def mean_std(values: Sequence[float]) -> str:
  values = 100.0 * np.asarray(values)
  return f"{values.mean():.1f} ± {values.std():.1f}"


def task_table(rows: list[dict], criterion: str) -> tuple[str, str]:
  """(Markdown, CSV): methods by tasks, mean ± std over seeds, plus the task average.

  The average column is the mean over tasks of each task's mean; it is left
  blank for a method missing a task.
  """
  done = [r for r in rows if not r.get("failed") and accuracy(r, criterion) is not None]
  tasks = list(dict.fromkeys(r["task"] for r in done))
  # The baseline first, then the methods in the order their runs were found.
  methods = sorted(dict.fromkeys(r["method"] for r in done), key=lambda m: m != "source_only")
  counts = collections.Counter((r["task"], r["method"]) for r in done)
  most_seeds = max(counts.values(), default=0)  # cells with fewer seeds say so
  header = ["method", *tasks, "avg"]
  md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  out = io.StringIO()
  writer = csv.writer(out)
  writer.writerow(["method", "task", "seeds", "mean", "std", "failed"])
  for method in methods:
    cells, means = [], []
    for task in tasks:
      values = [accuracy(r, criterion) for r in done
                if r["method"] == method and r["task"] == task]
      failed = sum(1 for r in rows if r.get("failed") and r["method"] == method
                   and r["task"] == task)
      if values:
        means.append(np.mean(values))
        writer.writerow([method, task, len(values), f"{100 * np.mean(values):.2f}",
                         f"{100 * np.std(values):.2f}", failed])
      cell = mean_std(values) if values else "–"
      if values and len(values) != most_seeds:
        cell += f" ({len(values)} seed{'s' if len(values) > 1 else ''})"
      cells.append(cell + (f" ({failed} diverged)" if failed else ""))
    average = f"{100 * np.mean(means):.1f}" if len(means) == len(tasks) else ""
    md.append("| " + " | ".join([method, *cells, average]) + " |")
  return "\n".join(md), out.getvalue()


def summary_table(rows: list[dict]) -> str:
  """Markdown: per task and method, the final models' accuracies and wall time."""
  lines = ["| task | method | seeds | target test accuracy (%) | source val accuracy (%) "
           "| wall time (s) |", "|---|---|---|---|---|---|"]
  done = [r for r in rows if not r.get("failed")]
  for task in dict.fromkeys(r["task"] for r in done):
    for method in dict.fromkeys(r["method"] for r in done if r["task"] == task):
      runs = [r for r in done if r["task"] == task and r["method"] == method]
      stat = lambda key, scale=100.0: "–" if any(r.get(key) is None for r in runs) else (
          f"{scale * np.mean([r[key] for r in runs]):.1f}"
          + (f" ± {scale * np.std([r[key] for r in runs]):.1f}" if len(runs) > 1 else ""))
      lines.append(f"| {task} | {method} | {len(runs)} | {stat('target_test_accuracy')} | "
                   f"{stat('source_val_accuracy')} | {stat('wall_seconds', 1.0)} |")
  return "\n".join(lines)


def gains_over(rows: list[dict], baseline: str = "source_only") -> str:
  """Lines '- task, method: +x.x points over source_only' (final models, mean over seeds)."""
  done = [r for r in rows if not r.get("failed")]
  lines = []
  for task in dict.fromkeys(r["task"] for r in done):
    mean = lambda m: np.mean([r["target_test_accuracy"] for r in done
                              if r["task"] == task and r["method"] == m])
    if not any(r["method"] == baseline for r in done if r["task"] == task):
      continue
    for method in dict.fromkeys(r["method"] for r in done if r["task"] == task):
      if method != baseline:
        lines.append(f"- {task}, {method}: {100 * (mean(method) - mean(baseline)):+.1f} "
                     f"points over {baseline}")
  return "\n".join(lines)


def selection_table(rows: list[dict]) -> str:
  """Per criterion: mean accuracy over all runs and its gap to the oracle's pick."""
  done = [r for r in rows if not r.get("failed") and "selected" in r
          and all(c in r["selected"] for c in CRITERIA)]  # source-free runs lack some
  oracle = np.array([accuracy(r, "oracle") for r in done])
  lines = ["| criterion | uses target labels | mean target accuracy (%) | "
           "mean gap to oracle (points) | worst gap (points) |", "|---|---|---|---|---|"]
  for criterion in CRITERIA:
    values = np.array([accuracy(r, criterion) for r in done])
    gap = 100 * (values - oracle)
    lines.append(f"| {criterion} | {'yes' if criterion == 'oracle' else 'no'} | "
                 f"{100 * values.mean():.1f} | {gap.mean():+.1f} | {gap.min():+.1f} |")
  return "\n".join(lines)


def pyplot():
  """matplotlib.pyplot on the file-only Agg backend (no display needed), imported late."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def plot_curves(rows: list[dict], path: str) -> None:
  """Target test accuracy over training, one panel per task, mean over seeds.

  Each method keeps one style on every panel: ten colours, then the same
  colours dashed, then dotted; one legend for the figure, beside the panels.
  """
  plt = pyplot()
  done = [r for r in rows if not r.get("failed") and r.get("evaluations")]
  tasks = list(dict.fromkeys(r["task"] for r in done))
  methods = list(dict.fromkeys(r["method"] for r in done))
  styles = {m: {"color": plt.get_cmap("tab10")(i % 10), "linestyle": ("-", "--", ":")[i // 10 % 3],
                "marker": "os^"[i // 10 % 3]} for i, m in enumerate(methods)}
  cols = min(3, len(tasks))
  rows_of_panels = -(-len(tasks) // cols)
  fig, axes = plt.subplots(rows_of_panels, cols, figsize=(5 * cols + 2.5, 4 * rows_of_panels),
                           squeeze=False)
  handles = {}
  for ax, task in zip(axes.flat, tasks):
    for method in dict.fromkeys(r["method"] for r in done if r["task"] == task):
      runs = [r["evaluations"] for r in done if r["task"] == task and r["method"] == method]
      steps = [e["step"] for e in runs[0]]
      curves = np.array([[e["target_test_accuracy"] for e in ev] for ev in runs
                         if len(ev) == len(steps)])
      (handles[method],) = ax.plot(steps, 100 * curves.mean(0), label=method, markersize=4,
                                   **styles[method])
    ax.set(title=task.replace("_", " "), xlabel="training step",
           ylabel="target test accuracy (%)")
    ax.grid(alpha=0.3)
  for ax in list(axes.flat)[len(tasks):]:
    ax.axis("off")
  fig.legend([handles[m] for m in methods if m in handles],
             [m for m in methods if m in handles], loc="center right", fontsize=9)
  fig.tight_layout(rect=(0, 0, 1 - 2.3 / (5 * cols + 2.5), 1))
  fig.savefig(path, dpi=120)
  plt.close(fig)


def plot_tsne(workdir: str, task: str, methods: Sequence[str], seed: int, size: int,
              path: str) -> dict[str, float]:
  """t-SNE of source/target features for each method's run; returns A-distances."""
  plt = pyplot()
  from tldomain import analysis  # pylint: disable=g-import-not-at-top
  from tldomain.inference import RestoredRun  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 5), squeeze=False)
  distances = {}
  for ax, method in zip(axes[0], methods):
    run = RestoredRun(os.path.join(workdir, task, method, f"seed{seed}"))
    source = run.outputs("source_val", size)["features"]
    target = run.outputs("target_test", size)["features"]
    distances[method] = analysis.a_distance(source, target)
    embedding = analysis.tsne(np.concatenate([source, target]))
    ax.scatter(*embedding[:len(source)].T, s=4, alpha=0.6, label="source")
    ax.scatter(*embedding[len(source):].T, s=4, alpha=0.6, label="target")
    ax.set(title=f"{method} (A-distance {distances[method]:.2f})", xticks=[], yticks=[])
    ax.legend(markerscale=3)
  fig.suptitle(f"{task.replace('_', ' ')}: features after training, seed {seed}")
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return distances


def write(path: str, text: str) -> None:
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
