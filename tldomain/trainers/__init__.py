"""Trainers side by side, one per `train.mode`, behind one registry.

Each trainer is a module with `run(config, workdir) -> results | None`. No
trainer imports another: what they share (tldomain/compute.py, run_data.py,
evaluation.py, loop.py, results.py, workdir.py) sits below them. A new mode
is a new file here and one line in `TRAINERS`.
"""

from typing import Callable

import ml_collections

from tldomain import config_checks
from tldomain import workdir as workdir_lib
from tldomain.registry import Registry
from tldomain.trainers import distill, features, finetune

Trainer = Callable[[ml_collections.ConfigDict, str], dict | None]

TRAINERS: Registry[Trainer] = Registry("train.mode")
TRAINERS.register("finetune", finetune.run)
TRAINERS.register("features", features.run)
TRAINERS.register("distill", distill.run)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict | None:
  """Runs the trainer `config.train.mode` names in `workdir` (see each trainer's `run`).

  First, before any data is read: the config's values are checked, the workdir
  is locked and a restart's config is checked against the run it resumes.
  """
  trainer = TRAINERS.get(config.train.mode)
  config_checks.check(config)
  with workdir_lib.claim(workdir, config):
    return trainer(config, workdir)
