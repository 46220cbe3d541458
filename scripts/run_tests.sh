#!/usr/bin/env bash
# README command 2: the test suite.
TLDOMAIN_EXTRAS=test source "$(dirname "$0")/env.sh"
exec python -m pytest -q --durations=15 "$@"
