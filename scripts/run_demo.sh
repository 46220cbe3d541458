#!/usr/bin/env bash
# README command 1: source-only vs DANN on the embedded digits task, then a results table.
source "$(dirname "$0")/env.sh"
exec python -m experiments.embedded_digits "$@"
