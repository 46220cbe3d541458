#!/usr/bin/env bash
# README command 2: the test suite.
TLDOMAIN_EXTRAS=test source "$(dirname "$0")/env.sh"
# Two pytest workers (TLDOMAIN_TEST_WORKERS to change; 0 runs in one process):
# much of a test's time is single-threaded (imports, XLA compilation), so two
# workers keep two cores busy. One XLA compilation cache for all workers and
# the processes tests start, so each program compiles once per run.
if [ -z "${JAX_COMPILATION_CACHE_DIR:-}" ]; then
  JAX_COMPILATION_CACHE_DIR="$(mktemp -d -t tldomain-xla-XXXXXX)"
  export JAX_COMPILATION_CACHE_DIR
  trap 'rm -rf "$JAX_COMPILATION_CACHE_DIR"' EXIT
fi
python -m pytest -q --durations=15 -n "${TLDOMAIN_TEST_WORKERS:-2}" --dist=worksteal "$@"
