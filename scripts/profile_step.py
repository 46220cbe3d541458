"""Where tldomain's training step spends its time, as a short table (CPU or GPU).

  python scripts/profile_step.py --model=resnet50 --method=dann --batch=32 --dtype=bfloat16

Builds the step exactly as scripts/bench_train.py does (tldomain's compute
core only: no TensorFlow), warms it up, records `--steps` steps with
`jax.profiler.trace(create_perfetto_trace=True)` and sums the recorded time of
each XLA operation (GPU: the device's kernels and copies; CPU: XLA:CPU's
thunks). Each operation is put in a class from the optimised HLO
(`compiled.as_text()`): what it computes (convolution, matrix product) and the
name scope JAX recorded for it (BatchNorm modules, the backward pass under
`transpose(`, the optimizer update outside the gradient); copies between host
and device are "transfers". Prints ms per step per class and the top
operations. The trace stays in `--trace_dir` for TensorBoard/Perfetto.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*\S+(?:\[[^\]]*\])?(?:\{[^}]*\})?\s+"
                         r"([\w\-]+)\(")
BATCH_NORM = re.compile(r"(?i)batchnorm|batch_norm|/bn\w*(/|$)|/norm\w*(/|$)")


def hlo_table(hlo_text: str) -> dict[str, dict]:
  """Instruction name -> {opcode, op_name, calls, target} for every instruction of the module."""
  table = {}
  for line in hlo_text.splitlines():
    match = INSTRUCTION.match(line)
    if not match:
      continue
    name, opcode = match.groups()
    op_name = re.search(r'op_name="([^"]*)"', line)
    calls = re.search(r"calls=%?([\w.\-]+)", line)
    target = re.search(r'custom_call_target="([^"]*)"', line)
    table[name] = {"opcode": opcode, "op_name": op_name.group(1) if op_name else "",
                   "calls": calls.group(1) if calls else "",
                   "target": target.group(1) if target else ""}
  return table


def computations(hlo_text: str) -> dict[str, list[str]]:
  """Computation name -> the opcodes (and custom-call targets) in its body, then
  "op_name=..." entries for the name scopes recorded on them."""
  bodies, current = collections.defaultdict(list), None
  for line in hlo_text.splitlines():
    header = re.match(r"^\s*(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
    if header and "=" not in line.split("{")[0]:
      current = header.group(1)
      continue
    match = INSTRUCTION.match(line)
    if match and current:
      target = re.search(r'custom_call_target="([^"]*)"', line)
      bodies[current].append(match.group(2) + (":" + target.group(1) if target else ""))
      op_name = re.search(r'op_name="([^"]*)"', line)
      if op_name:
        bodies[current].append("op_name=" + op_name.group(1))
  return bodies


def classify(info: dict, bodies: dict[str, list[str]]) -> str:
  body = bodies.get(info["calls"], [])
  ops = [info["opcode"] + (":" + info["target"] if info["target"] else "")]
  ops += [op for op in body if not op.startswith("op_name=")]
  text = " ".join(ops).lower()
  if not info["op_name"]:  # a fusion without its own metadata: its body's scope
    info = {**info, "op_name": next((op[8:] for op in body if op.startswith("op_name=")), "")}
  if "convolution" in text or "conv" in info["target"].lower():
    kind = "convolutions"
  elif re.search(r"\bdot\b|gemm|matmul|cublas", text):
    kind = "matrix products"
  elif BATCH_NORM.search(info["op_name"]):
    kind = "BatchNorm (statistics, normalisation)"
  elif "jvp(" not in info["op_name"] and "transpose(" not in info["op_name"]:
    kind = "optimizer update and other ops outside the gradient"
  else:
    kind = "other elementwise/reductions in forward and backward"
  if kind in ("convolutions", "matrix products"):
    kind += " (backward)" if "transpose(" in info["op_name"] else " (forward)"
  return kind


def kernel_class(name: str) -> str | None:
  """A class from a GPU kernel's own name, for kernels the HLO does not name."""
  lower = name.lower()
  if "memcpy" in lower or "memset" in lower:
    return "transfers (memcpy/memset)"
  if re.search(r"conv|fprop|dgrad|wgrad|implicit_gemm|cudnn", lower):
    return "convolutions (cuDNN kernel, unmapped)"
  if re.search(r"gemm|cublas|matmul|sm90_xmma", lower):
    return "matrix products (kernel, unmapped)"
  return None


def summarise(trace_file: str, table: dict, bodies: dict, steps: int, top: int) -> None:
  data = json.load(gzip.open(trace_file))
  events = data["traceEvents"] if isinstance(data, dict) else data
  process_names = {e["pid"]: e.get("args", {}).get("name", "") for e in events
                   if e.get("ph") == "M" and e.get("name") == "process_name"}
  gpu_pids = {pid for pid, name in process_names.items() if "GPU" in name or "gpu" in name}
  by_class, by_op = collections.Counter(), collections.Counter()
  for e in events:
    if e.get("ph") != "X" or "dur" not in e:
      continue
    if gpu_pids and e["pid"] not in gpu_pids:
      continue
    args = e.get("args", {})
    name = args.get("hlo_op") or e["name"]
    key = name if name in table else name.replace("_", ".") if name.replace("_", ".") in table \
        else None
    if key is not None:
      kind = classify(table[key], bodies)
    elif gpu_pids:
      kind = kernel_class(e["name"]) or "other kernels (unmapped)"
    else:
      continue  # CPU: Python frames and the executor's own spans are not operations
    by_class[kind] += e["dur"]
    by_op[(kind, key or e["name"])] += e["dur"]
  total = sum(by_class.values())
  print(f"\n{'class':58s} {'ms/step':>9s} {'share':>6s}")
  for kind, us in by_class.most_common():
    print(f"{kind:58s} {us / steps / 1e3:9.3f} {us / total:6.1%}")
  print(f"{'sum of recorded operations':58s} {total / steps / 1e3:9.3f}")
  print(f"\ntop {top} operations:")
  for (kind, name), us in by_op.most_common(top):
    op_name = table.get(name, {}).get("op_name", "")
    print(f"  {us / steps / 1e3:8.3f} ms  {name[:40]:40s} {kind[:30]:30s} {op_name[-70:]}")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", default="resnet50")
  parser.add_argument("--method", default="dann")
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"))
  parser.add_argument("--steps", type=int, default=10, help="steps recorded")
  parser.add_argument("--top", type=int, default=15)
  parser.add_argument("--trace_dir", default="/tmp/tldomain_profile")
  args = parser.parse_args()
  import jax  # pylint: disable=g-import-not-at-top
  import bench_train  # pylint: disable=g-import-not-at-top

  case = {"model": args.model, "method": args.method, "batch": args.batch, "steps": 1,
          "warmup": 3, "dtype": args.dtype, "threads": len(os.sched_getaffinity(0))}
  step, done, info, _ = bench_train.setup_jax(case)
  hlo = info.pop("hlo_text")
  start = time.perf_counter()
  for _ in range(args.steps):
    step()
  done()
  seconds = (time.perf_counter() - start) / args.steps
  images = args.batch * (1 if args.method == "source_only" else 2)
  with jax.profiler.trace(args.trace_dir, create_perfetto_trace=True):
    for _ in range(args.steps):
      step()
    done()
  traces = sorted(glob.glob(os.path.join(args.trace_dir, "**", "*.trace.json.gz"),
                            recursive=True), key=os.path.getmtime)
  if not traces:
    raise SystemExit(f"No *.trace.json.gz under {args.trace_dir}: the profiler wrote no trace.")
  print(f"{args.model} {args.method} {args.dtype}, batch {args.batch} per domain, "
        f"{info['platform']} ({info['device_kind']}), JAX {info['version']}: "
        f"{seconds * 1e3:.2f} ms/step untraced ({images / seconds:.1f} images/s), "
        f"compile {info['compile_s']:.1f} s")
  summarise(traces[-1], hlo_table(hlo), computations(hlo), args.steps, args.top)
  print(f"\ntrace: {traces[-1]}")


if __name__ == "__main__":
  main()
