"""scripts/bench_train.py runs: one tiny digits case, both frameworks."""

import importlib.util
import pathlib

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
  assert "JAX/eager" in out and "digits  dann" in out
