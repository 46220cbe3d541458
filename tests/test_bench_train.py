"""scripts/bench_train.py runs: one tiny digits case, both frameworks."""

import importlib.util
import pathlib

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
                     "--warmup=1", "--threads=1"])
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
  header = next(line for line in lines if "JAX/torch" in line)
  line = next(line for line in lines if line.startswith("digits  dann"))
  # Columns are separated by two or more spaces; the header's names hold single spaces.
  split = lambda text: [c for c in text.strip().split("  ") if c.strip()]
  printed = dict(zip([c.strip() for c in split(header)], [c.strip() for c in split(line)]))
  jax_s, torch_s = row["jax"]["seconds_per_step"], row["torch"]["seconds_per_step"]
  # The ratio is JAX's speed over torch's: torch's time per step over JAX's.
  assert printed["JAX/torch"] == f"{torch_s / jax_s:.2f}"
  for framework, seconds in (("JAX", jax_s), ("torch", torch_s)):
    assert float(printed[f"{framework} img/s"]) == pytest.approx(8 / seconds, rel=0.01, abs=0.01)
  assert printed["JAX compile s"] == f"{row['jax']['compile_s']:.1f}"
