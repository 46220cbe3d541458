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
from tldomain.methods import get_method
from tldomain.trainers import distill, features, finetune, source_free, test_time

Trainer = Callable[[ml_collections.ConfigDict, str], dict | None]

TRAINERS: Registry[Trainer] = Registry("train.mode")
TRAINERS.register("finetune", finetune.run)
TRAINERS.register("features", features.run)
TRAINERS.register("source_free", source_free.run)
TRAINERS.register("test_time", test_time.run)
TRAINERS.register("distill", distill.run)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict | None:
  """Runs the trainer `config.train.mode` names in `workdir` (see each trainer's `run`).

  First, before any data is read: the method must run in this mode, the
  config's values are checked, the workdir is locked and a restart's config is
  checked against the run it resumes.
  """
  trainer = TRAINERS.get(config.train.mode)
  method = get_method(config.method.name)
  if config.train.mode not in method.modes:
    raise ValueError(f"Method {method.name!r} runs in train.mode "
                     f"{' or '.join(method.modes)}, not {config.train.mode!r}.")
  if method.needs_target_labels and config.data.get("target_labeled_per_class", 0) <= 0:
    raise ValueError(f"Method {method.name!r} trains on labelled target shots: set "
                     "data.target_labeled_per_class to 1 or 3 (e.g. configs/digits.py:"
                     f"{method.name},usps,mnist,shots=3).")
  config_checks.check(config)
  with workdir_lib.claim(workdir, config):
    return trainer(config, workdir)
