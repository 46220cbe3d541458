"""A run's workdir: its identity and lock, its checkpoints opened and restored.

A workdir belongs to one run. The first run writes `config.json`, which defines
it; a restart resumes only with a config that trains the same way (see
`IGNORED_FIELDS` for what may change between restarts), otherwise it stops
listing the fields that differ. `--config.train.force_config=True` resumes
anyway and keeps the replaced config as `config.replaced_at_step_<N>.json`.
While a run trains, `<workdir>/lock` holds its pid and host, and a second run
on the same workdir stops; the lock is an OS file lock (flock) that the kernel
releases when the process ends in any way, so a lock left by a killed run is
recognised as stale and taken over.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import shutil
import socket
from typing import Any, Iterator, NamedTuple

from absl import logging
import jax
import ml_collections

from tldomain import defaults, results
from tldomain.checkpoint import Checkpointer

CONFIG_FILE = "config.json"
LOCK_FILE = "lock"
FORCE_FIELD = "train.force_config"
# Fields that do not change what is trained: logging, evaluation, checkpoint
# ranking, where the data lives and how many processes run. Any other
# difference (method, hyperparameters, backbone, data, transforms, seed, steps,
# batch size, optimizer, dtype, ...) makes a restart a different run.
IGNORED_FIELDS = (
    "train.log_every", "train.eval_every", "train.stop_at_step", "train.progress_bar",
    "train.features_cache", FORCE_FIELD, "data.data_dir", "data.manual_dir",
    "data.eval_batch_size", "data.source_val_split", "data.target_test_split",
    "selection.", "checkpoint.", "distributed.")


class WorkdirError(RuntimeError):
  """The workdir belongs to another run (another config, or a live process)."""


class OpenedRun(NamedTuple):
  checkpointer: Checkpointer
  state: Any  # the restored state, or the initial one
  start_step: int  # 0 for a new run


def checkpoint_steps(workdir: str) -> list[int]:
  """Steps of the completed checkpoints in `workdir` (cheap: no Orbax manager)."""
  folder = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(folder):
    return []
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit())


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(tree, dict):
    out = {}
    for key, value in tree.items():
      out.update(_flat(value, f"{prefix}{key}."))
    return out
  return {prefix[:-1]: tree}


def _as_json(config: ml_collections.ConfigDict) -> dict:
  return json.loads(config.to_json_best_effort())


def config_differences(saved: dict, config: ml_collections.ConfigDict) -> list[str]:
  """'field: saved -> now' for each field that changes training. A field the
  saved config lacks (added to tldomain later) counts as its default value."""
  base = _flat(_as_json(defaults.base_config()))
  old, new = {**base, **_flat(saved)}, _flat(_as_json(config))
  ignored = lambda key: any(key == f or (f.endswith(".") and key.startswith(f))
                            for f in IGNORED_FIELDS)
  keys = sorted(k for k in set(old) | set(new) if not ignored(k))
  missing = "(absent)"
  return [f"{k}: {json.dumps(old.get(k, missing))} -> {json.dumps(new.get(k, missing))}"
          for k in keys if old.get(k, missing) != new.get(k, missing)]


def check_identity(workdir: str, config: ml_collections.ConfigDict, write: bool) -> None:
  """Stops a restart whose config trains differently from the run in `workdir`;
  writes `config.json` for a new run (one without checkpoints) when `write`."""
  path = os.path.join(workdir, CONFIG_FILE)
  steps = checkpoint_steps(workdir)
  if steps and os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
    differences = config_differences(saved, config)
    if differences:
      listed = "\n  ".join(differences)
      if not config.train.get("force_config", False):
        raise WorkdirError(
            f"{workdir} holds a run of another config (checkpoint at step {steps[-1]}); "
            f"resuming it with this one would mix two runs. Fields that differ (saved -> "
            f"now):\n  {listed}\nUse a new --workdir to start fresh, or pass "
            f"--config.{FORCE_FIELD}=True to resume this workdir with the new config.")
      logging.warning("%s=True: resuming %s with a different config; fields that "
                      "differ (saved -> now):\n  %s", FORCE_FIELD, workdir, listed)
      if write:
        shutil.copyfile(path, os.path.join(
            workdir, f"config.replaced_at_step_{steps[-1]}.json"))
  elif steps:
    logging.warning("%s has checkpoints but no %s; it is taken as this config's run.",
                    workdir, CONFIG_FILE)
  if write:
    os.makedirs(workdir, exist_ok=True)
    results.write_json(path, _as_json(config))


def _describe(path: str) -> str:
  try:
    with open(path, encoding="utf-8") as f:
      holder = json.load(f)
    return (f"pid {holder.get('pid')} on host {holder.get('host')}, since "
            f"{holder.get('since')}")
  except (OSError, ValueError):
    return "a process whose lock file cannot be read"


@contextlib.contextmanager
def lock(workdir: str) -> Iterator[None]:
  """Holds `<workdir>/lock` (pid, host, start time) while the run trains.

  A second run on the workdir stops naming the holder. The lock is flock'ed,
  so the kernel releases it however the holder ends (SIGKILL included); a lock
  file whose flock is free is stale and is taken over with a warning.
  """
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
        raise WorkdirError(f"Cannot lock {path} ({e.strerror}); this file system may "
                           "not support file locks. Use a workdir on a local disk.") from e
      raise WorkdirError(
          f"{workdir} is in use by another run ({_describe(path)}). Wait for it to end, "
          f"or use another --workdir.") from None
    if os.fstat(fd).st_size:
      logging.warning("Taking over a stale lock in %s (%s, which no longer runs).",
                      workdir, _describe(path))
    holder = {"pid": os.getpid(), "host": socket.gethostname(),
              "since": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)
    try:
      yield
    finally:
      os.ftruncate(fd, 0)  # an empty lock file is a released one
      fcntl.flock(fd, fcntl.LOCK_UN)
  finally:
    os.close(fd)


@contextlib.contextmanager
def claim(workdir: str, config: ml_collections.ConfigDict) -> Iterator[None]:
  """Before any expensive work: the lock (first process only) and the identity check."""
  is_main = jax.process_index() == 0
  with (lock(workdir) if is_main else contextlib.nullcontext()):
    check_identity(workdir, config, write=is_main)
    yield


def _unreadable_metadata(directory: str, step: int) -> str | None:
  """Why a checkpoint's JSON files do not parse (Orbax reads them all on opening
  the folder, so one damaged file would stop every restore), or None."""
  for name in ("_CHECKPOINT_METADATA", os.path.join("metrics", "metrics")):
    path = os.path.join(directory, str(step), name)
    if os.path.exists(path):
      try:
        with open(path, encoding="utf-8") as f:
          json.load(f)
      except (OSError, ValueError) as e:
        return f"{path} does not parse: {e}"
  return None


class _Aside:
  """Moves damaged checkpoints to `<workdir>/corrupt_checkpoints`, so that training
  writes those steps again and later restarts do not trip on them; `undo` puts
  them back (when nothing restores, the fault may be the config, not the files)."""

  def __init__(self, workdir: str, directory: str):
    self.folder = os.path.join(workdir, "corrupt_checkpoints")
    self.directory = directory
    self.moves: list[tuple[str, str]] = []

  def move(self, step: int) -> None:
    os.makedirs(self.folder, exist_ok=True)
    target, suffix = os.path.join(self.folder, str(step)), 0
    while os.path.exists(target):
      suffix += 1
      target = os.path.join(self.folder, f"{step}.{suffix}")
    source = os.path.join(self.directory, str(step))
    os.replace(source, target)
    self.moves.append((source, target))

  def undo(self) -> None:
    for source, target in reversed(self.moves):
      os.replace(target, source)
    self.moves.clear()


def _first_line(error) -> str:
  text = str(error).strip()
  return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _restore_latest(workdir: str, config, initial_state, write: bool):
  """(checkpointer, state): the newest checkpoint that restores, falling back to an
  older one (and saying so) when the latest is truncated or corrupt."""
  directory = os.path.join(workdir, "checkpoints")
  make = lambda: Checkpointer(directory, config.checkpoint.best_metric,
                              config.checkpoint.best_mode)
  aside = _Aside(workdir, directory)
  failures: list[tuple[int, str]] = []
  if write:  # other processes of a multi-process run leave the files to process 0
    for step in checkpoint_steps(workdir):
      reason = _unreadable_metadata(directory, step)
      if reason:
        failures.append((step, reason))
        aside.move(step)
  checkpointer = make()
  for step in sorted(checkpointer.all_steps(), reverse=True):
    try:
      state = checkpointer.restore(step, initial_state)
    except Exception as e:  # Orbax raises many types for damaged files.
      failures.append((step, _first_line(e)))
      if not write:
        break
      checkpointer.close()
      aside.move(step)
      checkpointer = make()
      continue
    if failures:
      logging.warning(
          "Resuming from the previous good checkpoint, step %d. The checkpoint(s) at "
          "step(s) %s do not restore (%s) and were moved to %s.", step,
          ", ".join(str(s) for s, _ in failures), "; ".join(r for _, r in failures),
          aside.folder)
    else:
      logging.info("Resuming from the checkpoint at step %d in %s.", step, directory)
    return checkpointer, state
  if failures:
    checkpointer.close()
    aside.undo()
    steps = ", ".join(str(s) for s, _ in failures)
    raise WorkdirError(
        f"No checkpoint in {directory} restores into this run's state (step(s) {steps}: "
        f"{failures[0][1]}). If they are damaged, delete {directory} to train again from "
        "step 0, or use a new --workdir.")
  return checkpointer, initial_state


def trim_jsonl(path: str, last_step: int) -> None:
  """Drops records after `last_step` (written after the checkpoint resumed from)."""
  if not os.path.exists(path):
    return
  with open(path, encoding="utf-8") as f:
    lines = [line for line in f if line.strip()]
  kept = [line for line in lines if json.loads(line).get("step", 0) <= last_step]
  if len(kept) != len(lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
      f.writelines(kept)
    os.replace(tmp, path)


def open_run(workdir: str, config: ml_collections.ConfigDict, initial_state: Any,
             write: bool) -> OpenedRun:
  """Opens `workdir/checkpoints` and restores the latest good checkpoint into the
  shapes of `initial_state` if there is one; trims `metrics.jsonl` to the step
  resumed from (when `write`). `claim` has written `config.json`."""
  os.makedirs(workdir, exist_ok=True)
  checkpointer, state = _restore_latest(workdir, config, initial_state, write)
  start_step = int(jax.device_get(state.step))
  if write:
    trim_jsonl(os.path.join(workdir, "metrics.jsonl"), start_step)
  return OpenedRun(checkpointer, state, start_step)
