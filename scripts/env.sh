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
STAMP="$VENV/.tldomain-install-stamp"
WANT="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "[tldomain] installing tldomain and its dependencies into $VENV (first run takes a few minutes)" >&2
  LOG="$VENV/install.log"
  if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
         "$VENV/bin/python" -m pip install -e "$ROOT[test]"; } > "$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    echo "[tldomain] installation failed; the full log is $LOG" >&2
    exit 1
  fi
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
# TensorFlow is only the input pipeline here: keep its logs and its hold on the GPU out of the way.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
cd "$ROOT"
