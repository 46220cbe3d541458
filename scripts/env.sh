# Sourced by the README commands: creates (or reuses) ./.venv and installs tldomain
# into it, re-installing only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TLDOMAIN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[tldomain] creating virtual environment in $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
# The test command installs the "test" extra (PyTorch and friends, for reference
# checks); the main job needs only the package. Each install leaves a stamp with
# the hash of pyproject.toml, so a changed pyproject.toml reinstalls.
EXTRAS="${TLDOMAIN_EXTRAS:-}"
HASH="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
stamp_ok() { [ -f "$VENV/.tldomain-stamp-$1" ] && [ "$(cat "$VENV/.tldomain-stamp-$1")" = "$HASH" ]; }
if stamp_ok test || { [ -z "$EXTRAS" ] && stamp_ok base; }; then
  :  # up to date
else
  echo "[tldomain] installing tldomain${EXTRAS:+[$EXTRAS]} and its dependencies into $VENV (first run takes a few minutes)" >&2
  LOG="$VENV/install.log"
  if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
         "$VENV/bin/python" -m pip install -e "$ROOT${EXTRAS:+[$EXTRAS]}"; } > "$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    echo "[tldomain] installation failed; the full log is $LOG" >&2
    exit 1
  fi
  echo "$HASH" > "$VENV/.tldomain-stamp-${EXTRAS:-base}"
fi
export PATH="$VENV/bin:$PATH"
# TensorFlow is only the input pipeline here: keep its logs and its hold on the GPU out of the way.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
cd "$ROOT"
