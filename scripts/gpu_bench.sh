#!/usr/bin/env bash
# The GPU plan of issue 17: one GPU, JAX and PyTorch, no TensorFlow, under 8 minutes.
#
#   bash scripts/gpu_bench.sh [OUT_DIR]      # default OUT_DIR: ${OUT:-/tmp/gpu_bench}
#
# Runs, in this order, each part only while the time budget lasts
# (GPU_BENCH_BUDGET_S, default 450 s; a part that would start later is skipped
# and named as skipped):
#   1. a profile of the JAX ResNet-50 DANN bf16 step, 32 + 32 images, as a
#      table of where the time goes (scripts/profile_step.py);
#   2. ResNet-50 DANN bf16 at 32 and 128 images per domain: JAX against eager and
#      compiled PyTorch (the issue's acceptance figures);
#   3. ResNet-50 source-only and DANN, float32 and bf16, 32 and 128 per domain,
#      against eager PyTorch;
#   4. EfficientNet-Lite0, where tldomain has it (backbone efficientnet_lite0):
#      source-only and DANN, bf16 and float32, 32 per domain, eager and compiled;
#   5. compiled PyTorch for the remaining ResNet-50 cases of part 3.
# Every bench_train.py run alternates rounds of the frameworks and prints
# medians; logs and tables land in OUT_DIR.
#
# tldomain's compute core needs ml_collections, which that GPU image lacks.
# Bring its wheel (pure Python) into .whl/ first, on a machine with pip:
#   python3 -m pip download --no-deps -d .whl ml_collections==1.1.0
# and name .whl in the run's carry; it is installed here into /tmp/site.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT_DIR="${1:-${OUT:-/tmp/gpu_bench}}"
mkdir -p "$OUT_DIR"
BUDGET="${GPU_BENCH_BUDGET_S:-450}"
START=$(date +%s)
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
# Each case is its own process and several stay alive between rounds: no
# process may take 75% of the GPU as JAX does by default.
export XLA_PYTHON_CLIENT_MEM_FRACTION="${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.3}"

if ! "$PY" -c "import ml_collections" 2>/dev/null; then
  if ls .whl/ml_collections-*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
      .whl/ml_collections-*.whl || exit 1
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "ml_collections is missing and .whl/ holds no wheel of it. On a machine with pip:" >&2
    echo "  python3 -m pip download --no-deps -d .whl ml_collections==1.1.0" >&2
    echo "then carry .whl with the run." >&2
    exit 1
  fi
fi
if "$PY" -c "import tensorflow" 2>/dev/null; then
  echo "note: TensorFlow is installed; the benchmark still imports none of it." >&2
fi

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
  "$PY" -c "import jax, torch, flax, optax; print('jax', jax.__version__, jax.devices()); \
print('torch', torch.__version__, torch.cuda.get_device_name()); print('flax', flax.__version__, \
'optax', optax.__version__)"; date -u; git rev-parse HEAD 2>/dev/null; } 2>&1 | tee "$OUT_DIR/env.txt"

left() { echo $(( BUDGET - ($(date +%s) - START) )); }
# part NAME NEEDED_S COMMAND...: runs COMMAND if NEEDED_S seconds are left, at most until the budget.
part() {
  local name="$1" needed="$2"; shift 2
  local remaining; remaining=$(left)
  if [ "$remaining" -lt "$needed" ]; then
    echo "== $name: SKIPPED (${remaining}s of the budget left, needs ~${needed}s)" | tee -a "$OUT_DIR/summary.txt"
    return
  fi
  echo "== $name ($(date -u +%T), ${remaining}s left)" | tee -a "$OUT_DIR/summary.txt"
  timeout "$remaining" "$@" > "$OUT_DIR/$name.log" 2>&1
  local rc=$?
  # The tables: everything from the run's summary line on.
  sed -n '/^Training step,\|^resnet50 \|^efficientnet\|^class /,$p' "$OUT_DIR/$name.log" \
    | tee -a "$OUT_DIR/summary.txt"
  [ $rc -eq 0 ] || echo "   ($name exited $rc; see $OUT_DIR/$name.log)" | tee -a "$OUT_DIR/summary.txt"
}

BENCH=(scripts/bench_train.py --rounds=5 --steps=20 --warmup=3)
part profile_resnet50_dann_bf16 60 \
  "$PY" scripts/profile_step.py --model=resnet50 --method=dann --batch=32 --dtype=bfloat16 \
  --trace_dir="$OUT_DIR/trace"
for batch in 32 128; do
  part "resnet50_dann_bf16_b${batch}_eager_compile" 150 \
    "$PY" "${BENCH[@]}" --models=resnet50 --methods=dann --dtype=bfloat16 --batch=$batch \
    --torch=eager,compile
done
for dtype in float32 bfloat16; do
  for batch in 32 128; do
    methods=source_only,dann
    [ "$dtype" = bfloat16 ] && methods=source_only  # DANN bf16 ran in part 2
    part "resnet50_${dtype}_b${batch}_eager" 70 \
      "$PY" "${BENCH[@]}" --models=resnet50 --methods=$methods --dtype=$dtype --batch=$batch \
      --torch=eager
  done
done
if "$PY" -c "import sys; sys.path.insert(0, 'scripts'); import bench_train; \
sys.exit(0 if 'lite0' in bench_train.MODELS else 1)"; then
  for dtype in bfloat16 float32; do
    part "lite0_${dtype}_b32_eager_compile" 150 \
      "$PY" "${BENCH[@]}" --models=lite0 --methods=source_only,dann --dtype=$dtype --batch=32 \
      --torch=eager,compile
  done
else
  echo "== lite0: not in scripts/bench_train.py's MODELS (EfficientNet-Lite0 not merged)" \
    | tee -a "$OUT_DIR/summary.txt"
fi
for dtype in float32 bfloat16; do
  for batch in 32 128; do
    methods=source_only,dann
    [ "$dtype" = bfloat16 ] && methods=source_only
    part "resnet50_${dtype}_b${batch}_compile" 150 \
      "$PY" "${BENCH[@]}" --models=resnet50 --methods=$methods --dtype=$dtype --batch=$batch \
      --torch=compile
  done
done
echo "done in $(( $(date +%s) - START )) s; tables in $OUT_DIR/summary.txt" | tee -a "$OUT_DIR/summary.txt"
