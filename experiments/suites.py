"""Benchmark suites: lists of (task, method, seed, config) runs, and their runner.

A suite names its tasks (source -> target pairs), the config file that holds
each task's recipe, and default methods and seeds. `runs()` expands it into
`Run`s; `execute()` trains them one after another in-process, skipping runs
whose `results.json` exists, so an interrupted sweep picks up where it
stopped (an unfinished run resumes from its checkpoint). `Run.command()` gives
the equivalent `python -m tldomain.main` line for a cluster scheduler.

Layout: <workdir>/<task>/<method>/seed<seed>/{results.json, evaluations.jsonl, ...}
"""

import dataclasses
import json
import os
import shlex
from typing import Any, Iterable, Sequence

import ml_collections

from experiments import common

# Methods whose Office-31 recipe Transfer-Learning-Library publishes.
TLL_METHODS = ("source_only", "dann", "cdan", "cdan_e", "mmd", "jan", "mcc", "mdd")
ALL_METHODS = TLL_METHODS + ("coral", "entropy", "importance_weighting")
DIGIT_METHODS = ("source_only", "dann", "cdan", "mcc")


@dataclasses.dataclass(frozen=True)
class Task:
  source: str  # as the config file's argument names it
  target: str
  overrides: tuple[tuple[str, Any], ...] = ()  # (dotted config key, value)

  @property
  def name(self) -> str:
    return f"{self.source}_to_{self.target}".lower()


@dataclasses.dataclass(frozen=True)
class Suite:
  name: str
  config_file: str  # relative to the repository root; get_config("method,source,target")
  tasks: tuple[Task, ...]
  methods: tuple[str, ...]
  seeds: tuple[int, ...] = (0, 1, 2)
  description: str = ""
  # Features mode: run_suite points train.features_cache at <suite workdir>/features
  # (unless set), so that all runs extract each domain's backbone features once.
  shared_features: bool = False


@dataclasses.dataclass(frozen=True)
class Run:
  suite: str
  task: Task
  method: str
  seed: int
  config_file: str
  overrides: tuple[tuple[str, Any], ...] = ()

  @property
  def path(self) -> str:
    """The run's workdir relative to the suite's; "mme,shots=3" runs in mme_shots3/."""
    folder = self.method.replace(",", "_").replace("=", "")
    return os.path.join(self.task.name, folder, f"seed{self.seed}")

  @property
  def config_arg(self) -> str:
    """"method,source,target[,options]": a method may carry options ("mme,shots=3")."""
    method, _, options = self.method.partition(",")
    return ",".join([method, self.task.source, self.task.target] + ([options] if options else []))

  def all_overrides(self) -> tuple[tuple[str, Any], ...]:
    return (("seed", self.seed),) + self.task.overrides + self.overrides

  def starting_point(self, workdir: str) -> tuple[tuple[str, Any], ...]:
    """Source-free and test-time runs start from the suite's source-only run of
    the same task and seed (`<workdir>/<task>/source_only/seed<k>`), unless an
    override names train.init_from."""
    from tldomain import defaults  # pylint: disable=g-import-not-at-top (imports JAX)
    if (not defaults.starts_from_a_finished_run(self.method.partition(",")[0])
        or any(key == "train.init_from" for key, _ in self.all_overrides())):
      return ()
    return (("train.init_from",
             os.path.join(workdir, self.task.name, "source_only", f"seed{self.seed}")),)

  def config(self, workdir: str = "") -> ml_collections.ConfigDict:
    """The run's config; with the suite's `workdir`, also its starting point."""
    config = common.load_config(os.path.join(common.ROOT, self.config_file), self.config_arg)
    for key, value in self.all_overrides() + (self.starting_point(workdir) if workdir else ()):
      set_path(config, key, value)
    return config

  def command(self, workdir: str) -> str:
    """The same run as one shell command (for a cluster scheduler)."""
    args = [f"--config={self.config_file}:{self.config_arg}"]
    args += [f"--config.{key}={format_value(value)}"
             for key, value in self.all_overrides() + self.starting_point(workdir)]
    args.append(f"--workdir={os.path.join(workdir, self.path)}")
    return "python -m tldomain.main " + " ".join(shlex.quote(a) for a in args)


def set_path(config: ml_collections.ConfigDict, key: str, value: Any) -> None:
  *parents, leaf = key.split(".")
  node = config
  for part in parents:
    node = node[part]
  if leaf not in node:
    raise KeyError(f"Config has no field {key!r}; check the override's spelling.")
  node[leaf] = value


def format_value(value: Any) -> str:
  return json.dumps(value) if isinstance(value, (list, tuple, bool)) else str(value)


def parse_override(text: str) -> tuple[str, Any]:
  """'train.steps=1000' -> ('train.steps', 1000); values parse as JSON, else stay strings."""
  key, sep, raw = text.partition("=")
  if not sep or not key:
    raise ValueError(f"Override {text!r} is not key=value (for example train.steps=1000).")
  try:
    value = json.loads(raw)
  except json.JSONDecodeError:
    value = raw
  return key.strip(), value


# Digits on the machines' own files (../shared/data): MNIST is its test split
# (the IDX t10k files). As a target it is adapted on without labels and tested
# on (transductive, as usual for digits); as a source it is cut into 9000
# training and 1000 held-out validation images, so checkpoints can be ranked
# on source data the model never trained on.
_MNIST_TEST_AS_TARGET = (("data.target_train_split", "test"),)
_MNIST_TEST_AS_SOURCE = (("data.source_train_split", "test[:9000]"),
                         ("data.source_val_split", "test[9000:]"))

# PACS with ImageNet EfficientNet-Lite0 (configs/pacs.py) on the 6 tasks among
# the three domains in ../shared/data. The recipes' schedules keep their shape
# over progress (tldomain/recipes.py), so fewer steps shorten them evenly.
_PACS_TASKS = ("photo", "art_painting", "cartoon")
# Features: the frozen backbone at its native 224, features extracted once per
# domain; a head trained on them in 2000 steps (seconds each).
_PACS_FEATURES = (("train.mode", "features"), ("train.steps", 2000),
                  ("train.eval_every", 500), ("train.log_every", 100))
# Fine-tuning the whole network on a 2-core CPU: 128 x 128 images, batch 16 per
# domain, 200 steps (wall time per run: README of experiments/results/pacs).
_PACS_FINETUNE = (("data.image_size", 128), ("data.batch_size", 16), ("train.steps", 200),
                  ("train.eval_every", 100), ("train.log_every", 25),
                  ("data.eval_batch_size", 64))


def _pacs_tasks(overrides) -> tuple[Task, ...]:
  return tuple(Task(s, t, overrides) for s in _PACS_TASKS for t in _PACS_TASKS if s != t)


SUITES: dict[str, Suite] = {s.name: s for s in [
    Suite("embedded_digits", "configs/embedded_digits.py",
          (Task("uci_digits", "uci_digits_m"),), ("source_only", "dann"), seeds=(0,),
          description="The main job: the offline embedded task (README)."),
    Suite("office31", "configs/office31.py",
          tuple(Task(s, t) for s, t in [("amazon", "webcam"), ("dslr", "webcam"),
                                        ("webcam", "dslr"), ("amazon", "dslr"),
                                        ("dslr", "amazon"), ("webcam", "amazon")]),
          TLL_METHODS, description="Office-31, 6 tasks, ResNet-50 (TLL recipes)."),
    Suite("office_home", "configs/office_home.py",
          tuple(Task(s, t) for s in ("Art", "Clipart", "Product", "Real_World")
                for t in ("Art", "Clipart", "Product", "Real_World") if s != t),
          TLL_METHODS, description="Office-Home, 12 tasks, ResNet-50 (TLL recipes)."),
    Suite("visda2017", "configs/visda2017.py", (Task("synthetic", "real"),),
          TLL_METHODS, description="VisDA-2017 synthetic -> real, ResNet-101."),
    Suite("digits", "configs/digits.py",
          (Task("usps", "mnist"), Task("mnist", "usps"), Task("svhn", "mnist"),
           Task("mnist", "mnist_m")),
          DIGIT_METHODS, description="The four digit tasks on the full releases."),
    Suite("digits_local", "configs/digits.py",
          (Task("usps", "mnist", _MNIST_TEST_AS_TARGET),
           Task("mnist", "usps", _MNIST_TEST_AS_SOURCE)),
          DIGIT_METHODS,
          description="USPS <-> MNIST on ../shared/data (MNIST = its test split)."),
    Suite("pacs_features", "configs/pacs.py", _pacs_tasks(_PACS_FEATURES),
          ("source_only", "dann", "cdan", "mcc", "mdd", "mmd", "coral"),
          description="PACS P/A/C, 6 tasks, heads on frozen ImageNet Lite0 features.",
          shared_features=True),
    # Semi-supervised DA on frozen features: 1 and 3 labelled target images per
    # class, taken from the target (and left out of its test set); the source-only
    # and UDA runs of pacs_features are the reference.
    Suite("pacs_fewshot", "configs/pacs.py",
          tuple(Task("photo", t, _PACS_FEATURES) for t in ("art_painting", "cartoon")),
          ("s_plus_t,shots=1", "mme,shots=1", "s_plus_t,shots=3", "mme,shots=3"),
          description="PACS photo -> art_painting/cartoon, S+T and MME with 1 and 3 shots, "
          "heads on frozen ImageNet Lite0 features.", shared_features=True),
    # Test-time adaptation of pacs_features' source-only runs (run it with the
    # same --workdir): the frozen Lite0 and its head, adapted on target images.
    Suite("pacs_test_time", "configs/pacs.py",
          tuple(Task("photo", t) for t in ("art_painting", "cartoon")), ("adabn", "tent"),
          description="PACS photo -> art_painting/cartoon: AdaBN and TENT from the "
          "source-only runs of pacs_features (same workdir)."),
    Suite("pacs_finetune", "configs/pacs.py", _pacs_tasks(_PACS_FINETUNE),
          ("source_only", "dann", "cdan", "mcc"), seeds=(0,),
          description="PACS P/A/C, 6 tasks, ImageNet Lite0 fine-tuned at 128 x 128."),
    # MNIST-M: the shared sample's 500 test images, adapted on without labels
    # and tested on (transductive). `fda` is source_only on FDA images.
    Suite("pixel_level", "configs/digits.py",
          (Task("mnist", "mnist_m", _MNIST_TEST_AS_SOURCE + (("data.target_train_split", "test"),)),
           Task("usps", "mnist", _MNIST_TEST_AS_TARGET)),
          ("source_only", "dann", "fda", "pixelda"),
          description="Pixel-level adaptation (FDA, PixelDA) against source-only and DANN "
          "on ../shared/data: MNIST -> MNIST-M (sample), USPS -> MNIST."),
]}


def get_suite(name: str) -> Suite:
  if name not in SUITES:
    raise ValueError(f"Unknown suite {name!r}; valid suites: {', '.join(SUITES)}.")
  return SUITES[name]


def runs(suite: Suite, methods: Sequence[str] | None = None, seeds: Iterable[int] | None = None,
         tasks: Sequence[str] | None = None,
         overrides: Sequence[tuple[str, Any]] = ()) -> list[Run]:
  """The suite's runs, task by task, then seed, then method."""
  chosen = list(suite.tasks)
  if tasks:
    unknown = sorted(set(tasks) - {t.name for t in suite.tasks})
    if unknown:
      raise ValueError(f"Suite {suite.name!r} has no task {', '.join(unknown)}; its tasks: "
                       f"{', '.join(t.name for t in suite.tasks)}.")
    chosen = [t for t in chosen if t.name in tasks]
  return [Run(suite.name, task, method, seed, suite.config_file, tuple(overrides))
          for task in chosen
          for seed in (suite.seeds if seeds is None else seeds)
          for method in (methods or suite.methods)]


def is_finished(run: Run, workdir: str) -> bool:
  return os.path.exists(os.path.join(workdir, run.path, "results.json"))


def has_failed(run: Run, workdir: str) -> bool:
  return os.path.exists(os.path.join(workdir, run.path, "failed.json"))


def execute(suite_runs: Sequence[Run], workdir: str, progress_bar: bool = True) -> list[dict]:
  """Trains the unfinished runs one after another; returns every run's results
  (results.json plus `task`), in the order of `suite_runs`.

  A run whose loss diverges is recorded in `failed.json` in its workdir and the
  sweep goes on; the collector lists it.
  """
  from tldomain import trainers  # pylint: disable=g-import-not-at-top (imports JAX, TF)
  from tldomain.loop import NonFiniteLossError  # pylint: disable=g-import-not-at-top
  from tldomain.results import write_json  # pylint: disable=g-import-not-at-top
  from tldomain.console import quiet_library_logs  # pylint: disable=g-import-not-at-top
  quiet_library_logs()
  results = []
  for i, run in enumerate(suite_runs, 1):
    run_dir = os.path.join(workdir, run.path)
    if is_finished(run, workdir):
      with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
        results.append({**json.load(f), "task": run.task.name})
      continue
    if has_failed(run, workdir):  # diverged before; delete failed.json to try again
      continue
    print(f"\n== [{i}/{len(suite_runs)}] {run.task.name} {run.method} seed {run.seed} "
          f"-> {run_dir}", flush=True)
    config = run.config(workdir)
    config.train.progress_bar = config.train.progress_bar and progress_bar
    try:
      outcome = trainers.run(config, run_dir)
    except NonFiniteLossError as e:
      write_json(os.path.join(run_dir, "failed.json"), {"error": str(e)})
      print(f"   diverged: {e}", flush=True)
      continue
    if outcome is None:  # stopped early (SIGTERM): the rest waits for the next start
      break
    results.append({**outcome, "task": run.task.name})
  return results
