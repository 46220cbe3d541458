"""scripts/bench_train.py runs: one tiny digits case, both frameworks."""

import importlib.util
import pathlib
import statistics

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_script():
  spec = importlib.util.spec_from_file_location("bench_train", ROOT / "scripts" / "bench_train.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_bench_train_times_both_frameworks_on_digits(capsys):
  bench = load_script()
  rows = bench.main(["--models=digits", "--methods=dann", "--batch=4", "--steps=1",
                     "--warmup=1", "--threads=1", "--rounds=2", "--torch=eager"])
  assert len(rows) == 1
  row = rows[0]
  assert (row["model"], row["method"], row["images"]) == ("digits", "dann", 8)
  for framework in ("jax", "torch"):
    result = row[framework]
    assert "error" not in result, result
    assert result["seconds_per_step"] > 0 and result["peak_mib"] > 0
  assert row["jax"]["compile_s"] > 0
  out = capsys.readouterr().out
  lines = out.splitlines()
  header = next(line for line in lines if "JAX/eager" in line)
  line = next(line for line in lines if line.startswith("digits  dann"))
  # Columns are separated by two or more spaces; the header's names hold single spaces.
  split = lambda text: [c for c in text.strip().split("  ") if c.strip()]
  printed = dict(zip([c.strip() for c in split(header)], [c.strip() for c in split(line)]))
  jax_rates, torch_rates = row["jax"]["rates"], row["torch"]["rates"]
  assert len(jax_rates) == len(torch_rates) == 2  # one rate per alternating round
  # Medians of the rounds; the ratio is JAX's speed over eager PyTorch's.
  assert row["jax"]["images_per_second"] == pytest.approx(statistics.median(jax_rates))
  jax_ips, torch_ips = row["jax"]["images_per_second"], row["torch"]["images_per_second"]
  assert printed["JAX/eager"] == f"{jax_ips / torch_ips:.2f}"
  for rates, ips, cell in ((jax_rates, jax_ips, printed["JAX img/s"]),
                           (torch_rates, torch_ips, printed["torch eager img/s"])):
    median, spread = cell.split(" ", 1)
    assert float(median) == pytest.approx(ips, rel=0.01, abs=0.01)
    low, high = spread.strip("[]").split("-")
    assert float(low) == pytest.approx(min(rates), rel=0.01, abs=0.01)
    assert float(high) == pytest.approx(max(rates), rel=0.01, abs=0.01)
