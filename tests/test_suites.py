"""A tiny suite end to end: runner, resume after an interruption, tables and plots."""

import json
import os
import dataclasses

import numpy as np
import pytest

from experiments import report, suites

import helpers


@pytest.fixture
def tiny_suite(tmp_path, data_dir):
  config_file = tmp_path / "tiny_config.py"
  config_file.write_text(helpers.TINY_SUITE_CONFIG)
  task = suites.Task("uci_digits", "uci_digits_m", (("data.data_dir", data_dir),))
  return suites.Suite("tiny", str(config_file), (task,), ("source_only", "dann"), seeds=(0, 1))


def test_tiny_suite_resumes_and_collects_the_right_cells(tiny_suite, tmp_path):
  workdir = str(tmp_path / "suite")
  runs = suites.runs(tiny_suite)
  assert [(r.method, r.seed) for r in runs] == [
      ("source_only", 0), ("dann", 0), ("source_only", 1), ("dann", 1)]
  assert "--config.seed=1" in runs[2].command(workdir)
  assert runs[2].command(workdir).endswith(
      os.path.join(workdir, "uci_digits_to_uci_digits_m", "source_only", "seed1"))

  # An interrupted sweep: the first run finished, the second stopped at step 2.
  suites.execute(runs[:1], workdir)
  stopped = dataclasses.replace(runs[1], overrides=(("train.stop_at_step", 2),))
  assert suites.execute([stopped], workdir) == []
  first = os.path.join(workdir, runs[0].path, "results.json")
  first_written = os.stat(first).st_mtime_ns
  assert not suites.is_finished(runs[1], workdir)

  results = suites.execute(runs, workdir)
  assert len(results) == 4
  assert os.stat(first).st_mtime_ns == first_written  # not redone
  assert results[1]["resumed_from_step"] == 2  # continued from its checkpoint
  assert all(r["resumed_from_step"] == 0 for r in results[2:])
  evaluation = results[0]["evaluations"][-1]
  assert evaluation["step"] == 4
  assert 0.0 <= evaluation["target_test_class_mean_accuracy"] <= 1.0
  assert results[0]["target_test_class_mean_accuracy"] == evaluation[
      "target_test_class_mean_accuracy"]

  rows = report.load_results(workdir)
  assert sorted((r["method"], r["seed"]) for r in rows) == sorted(
      (r.method, r.seed) for r in runs)
  for criterion in ("last", "oracle", "dev"):
    md, csv_text = report.task_table(rows, criterion)
    for method in ("source_only", "dann"):
      on_disk = []
      for seed in (0, 1):
        with open(os.path.join(workdir, "uci_digits_to_uci_digits_m", method, f"seed{seed}",
                               "results.json"), encoding="utf-8") as f:
          r = json.load(f)
        if criterion == "last":
          on_disk.append(r["target_test_accuracy"])
        else:  # recomputed here from the per-evaluation records
          key, mode = {"oracle": ("target_test_accuracy", max), "dev": ("dev", min)}[criterion]
          best = mode(r["evaluations"], key=lambda e: e[key])
          on_disk.append(best["target_test_accuracy"])
      values = 100 * np.array(on_disk)
      cell = f"{values.mean():.1f} ± {values.std():.1f}"
      assert f"| {method} | {cell} | {values.mean():.1f} |" in md
      assert f"{method},uci_digits_to_uci_digits_m,2,{values.mean():.2f},{values.std():.2f},0" \
          in csv_text

  table = report.selection_table(rows)
  for criterion in report.CRITERIA:
    assert f"| {criterion} |" in table
  curves = tmp_path / "curves.png"
  report.plot_curves(rows, str(curves))
  assert curves.stat().st_size > 1000
  distances = report.plot_tsne(workdir, "uci_digits_to_uci_digits_m", ["source_only", "dann"],
                                seed=0, size=60, path=str(tmp_path / "tsne.png"))
  assert set(distances) == {"source_only", "dann"}
  assert all(0.0 <= d <= 2.0 for d in distances.values())


def test_unknown_suite_and_task_name_the_valid_ones():
  with pytest.raises(ValueError,
                     match="valid suites: embedded_digits, office31, office_home, visda2017"):
    suites.get_suite("office-31")
  with pytest.raises(ValueError, match="its tasks: usps_to_mnist, mnist_to_usps"):
    suites.runs(suites.get_suite("digits_local"), tasks=["usps_to_svhn"])
  with pytest.raises(ValueError, match="key=value"):
    suites.parse_override("train.steps")
  assert suites.parse_override("train.steps=10") == ("train.steps", 10)
  assert suites.parse_override("data.source_train_split=test[:9000]") == (
      "data.source_train_split", "test[:9000]")


@pytest.mark.parametrize("name", sorted(suites.SUITES))
def test_every_suite_builds_the_config_of_each_run(name):
  suite = suites.get_suite(name)
  runs = suites.runs(suite, seeds=[0])
  assert len(runs) == len(suite.tasks) * len(suite.methods)
  for run in runs:
    config = run.config()
    assert config.method.name == run.method.partition(",")[0] and config.seed == 0
    for key, value in run.task.overrides:
      assert config[key.split(".")[0]][key.split(".")[1]] == value


def test_a_run_saved_before_a_config_field_existed_restores_with_its_default():
  from tldomain import saved_config  # pylint: disable=g-import-not-at-top
  base = {"model": {"dtype": "float32", "backbone": "digits_cnn"}, "seed": 0}
  saved = {"model": {"backbone": "resnet18"}, "seed": 3, "method": {"name": "dann"}}
  assert saved_config.with_defaults(base, saved) == {
      "model": {"dtype": "float32", "backbone": "resnet18"}, "seed": 3,
      "method": {"name": "dann"}}


def test_test_time_runs_start_from_the_suites_source_only_run():
  run = suites.runs(suites.get_suite("pacs_test_time"), methods=["tent"], seeds=[1])[0]
  expected = os.path.join("W", "photo_to_art_painting", "source_only", "seed1")
  assert run.config("W").train.init_from == expected
  assert f"--config.train.init_from={expected}" in run.command("W")
  assert not run.config().train.init_from  # no suite workdir, no starting point
  source_only = suites.runs(suites.get_suite("pacs_features"), methods=["source_only"])[0]
  assert source_only.starting_point("W") == ()


def test_reports_leave_a_test_time_run_out_of_source_criteria_only():
  """AdaBN has no source data, so no source-validation pick: its row is absent
  from that table and from the selection summary, present in 'last'."""
  def row(method, acc, selected):
    return {"task": "p_to_c", "method": method, "seed": 0, "target_test_accuracy": acc,
            "source_val_accuracy": None if method == "adabn" else 0.9, "wall_seconds": 2.0,
            "selected": {c: {"target_test_accuracy": acc} for c in selected}}
  rows = [row("source_only", 0.5, report.CRITERIA),
          row("adabn", 0.6, [c for c in report.CRITERIA if c not in ("source_val", "dev")])]
  assert "adabn" not in report.task_table(rows, "source_val")[0]
  assert "| adabn | 60.0 ± 0.0 |" in report.task_table(rows, "last")[0]
  assert "| p_to_c | adabn | 1 | 60.0 | – | 2.0 |" in report.summary_table(rows)
  assert "| oracle | yes | 50.0 |" in report.selection_table(rows)
