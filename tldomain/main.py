"""Command line: python -m tldomain.main --config=configs/<name>.py[:arg] --workdir=DIR.

Any config field can be overridden: --config.method.trade_off=0.5,
--config.optim.groups.backbone.lr_mult=0.1, --config.train.steps=500.
--import=my_losses.py (or a module path) loads a user's file first, so the
methods, backbones or datasets it registers can be named in the config.

Expected errors (bad config values, unknown names, missing or damaged data, a
workdir of another run, a diverged loss) print one line, `tldomain: error:
...`, and exit with status 1; `--verbose` or TLDOMAIN_TRACEBACK=1 shows the
traceback. A run stopped by SIGTERM saves a checkpoint and exits with status
143 (128 + SIGTERM, as if the signal had ended it), which schedulers read as
"terminated by a signal", not success: requeue the job on 143 and it resumes.
"""

import json
import os
import re
import sys

from absl import app, flags, logging
import jax
from ml_collections import config_flags

from tldomain.console import quiet_library_logs
from tldomain.methods import import_user_module

IMPORT_FLAG = "import"
VERBOSE_FLAG = "verbose"
TRACEBACK_ENV = "TLDOMAIN_TRACEBACK"
# The exit status after SIGTERM: 128 + 15, what a process ended by SIGTERM reports.
PREEMPTED_EXIT_CODE = 143
# Errors that describe bad input, not a bug: their message is the whole story.
EXPECTED_ERRORS = (ValueError, LookupError, OSError, FloatingPointError, RuntimeError,
                   ImportError)


def _early_imports(argv: list[str]) -> None:
  """Imports --import modules before flags parse, since config files may name them."""
  for i, arg in enumerate(argv):
    if arg.startswith(f"--{IMPORT_FLAG}="):
      import_user_module(arg.split("=", 1)[1])
    elif arg == f"--{IMPORT_FLAG}" and i + 1 < len(argv):
      import_user_module(argv[i + 1])


_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file and argument: configs/<name>.py[:arg].", lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run directory: checkpoints, metrics, config and results.json. "
    "Running again on the same workdir resumes the run.")
flags.DEFINE_multi_string(
    IMPORT_FLAG, [], "A .py file or module path to import first (user methods, "
    "backbones, datasets).")
flags.DEFINE_bool(VERBOSE_FLAG, False, f"Show the traceback of an error (or set "
                  f"{TRACEBACK_ENV}=1).")
flags.mark_flags_as_required(["config", "workdir"])


_MAIN_STARTED = False  # flags parsed: errors from here on are the run's own


def main(argv: list[str]) -> None:
  global _MAIN_STARTED
  _MAIN_STARTED = True
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  quiet_library_logs()
  from tldomain import sharding, trainers  # pylint: disable=g-import-not-at-top
  sharding.initialize_distributed(_CONFIG.value.distributed)
  from tldomain import loop  # pylint: disable=g-import-not-at-top
  results = trainers.run(_CONFIG.value, _WORKDIR.value)
  if results is None and loop.sigterm_received():
    sys.exit(PREEMPTED_EXIT_CODE)  # the checkpoint is saved: requeue to resume
  if results is not None and jax.process_index() == 0:
    logging.info("Results: %s", json.dumps(results, indent=2))
    print(json.dumps({k: results[k] for k in
                      ("method", "source", "target", "steps", "target_test_accuracy",
                       "wall_seconds")}))


def _verbose(argv: list[str]) -> bool:
  """Read before flags parse: a config error happens while they parse."""
  on = os.environ.get(TRACEBACK_ENV, "").strip().lower() in ("1", "true", "yes", "on")
  return on or any(a in (f"--{VERBOSE_FLAG}", f"--{VERBOSE_FLAG}=true", f"--{VERBOSE_FLAG}=1",
                         f"--{VERBOSE_FLAG}=True") for a in argv)


def _message(error: BaseException) -> str:
  text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
  return str(text).strip() or type(error).__name__


def error_message(error: BaseException, argv: list[str]) -> str | None:
  """The one-line message for an expected error, or None for a bug."""
  text = _message(error)
  if isinstance(error, (KeyError, AttributeError)) and not _MAIN_STARTED:
    # While flags parse: an ml_collections override of a field that does not exist.
    fields = [a.split("=", 1)[0][len("--config."):] for a in argv if a.startswith("--config.")]
    quoted = text.replace("\\'", "'")
    for field in fields:
      parts = field.split(".")
      for i, part in enumerate(parts):
        if f"'{part}'" in quoted:
          hint = re.search(r'Did you mean "([^"]+)" instead of', text)
          wrong = ".".join(parts[:i + 1])
          return (f"Unknown config field {wrong!r} (in --config.{field})" +
                  (f": did you mean {'.'.join(parts[:i] + [hint.group(1)])!r}?" if hint
                   else "."))
  if isinstance(error, EXPECTED_ERRORS):
    return text
  return None


def run_cli() -> None:
  """Entry point of the `tldomain` console script."""
  argv = sys.argv[1:]
  try:
    _early_imports(argv)
    app.run(main)
  except Exception as e:  # pylint: disable=broad-except
    message = error_message(e, argv)
    if message is None or _verbose(argv):
      raise
    print(f"tldomain: error: {message}\n(--{VERBOSE_FLAG} or {TRACEBACK_ENV}=1 shows the "
          "traceback.)", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
  run_cli()
