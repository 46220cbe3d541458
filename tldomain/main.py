"""Command line: python -m tldomain.main --config=configs/<name>.py[:arg] --workdir=DIR.

Any config field can be overridden: --config.method.trade_off=0.5,
--config.optim.groups.backbone.lr_mult=0.1, --config.train.steps=500.
--import=my_losses.py (or a module path) loads a user's file first, so the
methods, backbones or datasets it registers can be named in the config.
"""

import json
import sys

from absl import app, flags, logging
import jax
from ml_collections import config_flags

from tldomain.console import quiet_library_logs
from tldomain.methods import import_user_module

IMPORT_FLAG = "import"


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
flags.mark_flags_as_required(["config", "workdir"])


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  quiet_library_logs()
  from tldomain import sharding, trainers  # pylint: disable=g-import-not-at-top
  sharding.initialize_distributed(_CONFIG.value.distributed)
  results = trainers.run(_CONFIG.value, _WORKDIR.value)
  if results is not None and jax.process_index() == 0:
    logging.info("Results: %s", json.dumps(results, indent=2))
    print(json.dumps({k: results[k] for k in
                      ("method", "source", "target", "steps", "target_test_accuracy",
                       "wall_seconds")}))


def run_cli() -> None:
  """Entry point of the `tldomain` console script."""
  _early_imports(sys.argv[1:])
  app.run(main)


if __name__ == "__main__":
  run_cli()
