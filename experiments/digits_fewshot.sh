#!/bin/bash
# Few-shot, source-free and test-time methods on USPS -> MNIST (the files in
# ../shared/data; MNIST = its test split, adapted on transductively), seeds 0 1 2,
# with the digits_local suite's protocol (configs/digits.py, 1000 steps,
# evaluation every 200). The source-free and test-time runs start from the
# suite's source-only runs, which must be finished first:
#
#   python -m experiments.run_suite --suite=digits_local --manual_dir=../shared/data \
#       --set=train.steps=1000 --set=train.eval_every=200 --workdir=WORKDIR \
#       --progress_bar=false --tasks=usps_to_mnist --methods=source_only
#   bash experiments/digits_fewshot.sh WORKDIR shot shot_im adabn tent \
#       s_plus_t,shots=1 s_plus_t,shots=3 mme,shots=1 mme,shots=3
#   python -m experiments.fewshot_table --workdir=WORKDIR/usps_to_mnist
#
# Each spec is "method[,shots=K]"; runs land in WORKDIR/usps_to_mnist/<method>[_shotsK]/seed<k>.
# A run whose results.json exists is skipped; an unfinished one resumes.
set -euo pipefail
WORKDIR=$(realpath "$1"); shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"  # configs/ and the tldomain package
MANUAL_DIR=${MANUAL_DIR:-$ROOT/../shared/data}
PYTHON=${PYTHON:-python}
W=$WORKDIR/usps_to_mnist
for spec in "$@"; do
  method=${spec%%,*}; opts=""; name=$method
  if [[ $spec == *,* ]]; then opts=",${spec#*,}"; name="${method}_${spec#*,}"; name=${name//=/}; fi
  for seed in ${SEEDS:-0 1 2}; do
    [ -f "$W/$name/seed$seed/results.json" ] && continue
    init=()
    case $method in
      shot|shot_im|adabn|tent) init=(--config.train.init_from="$W/source_only/seed$seed");;
    esac
    echo "== $(date -u +%T) $name seed $seed"
    "$PYTHON" -m tldomain.main --config="configs/digits.py:$method,usps,mnist$opts" \
      --workdir="$W/$name/seed$seed" --config.seed="$seed" \
      --config.data.manual_dir="$MANUAL_DIR" --config.data.target_train_split=test \
      --config.train.steps=1000 --config.train.eval_every=200 \
      --config.train.progress_bar=False "${init[@]}"
  done
done
