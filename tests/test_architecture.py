"""The package's shape: no import circles, and a compute core without TensorFlow."""

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "tldomain")


def module_files() -> dict[str, str]:
  """{dotted module name: file} of every module in tldomain/."""
  out = {}
  for folder, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith(".py"):
        rel = os.path.relpath(os.path.join(folder, name), ROOT)[:-3].split(os.sep)
        if rel[-1] == "__init__":
          rel = rel[:-1]
        out[".".join(rel)] = os.path.join(folder, name)
  return out


def imported_modules(path: str, module: str, known: set[str]) -> set[str]:
  """The tldomain modules `path` imports anywhere in it (function bodies included).

  `from a.b import c` counts as importing a.b.c when that is a module, else a.b.
  A parent package imported implicitly by Python is not counted: it is already
  being imported when a submodule of it runs.
  """
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
  package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names if alias.name in known)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        parts = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
      for alias in node.names:
        full = f"{base}.{alias.name}"
        if full in known:
          found.add(full)
        elif base in known:
          found.add(base)
  found.discard(module)
  return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """One import circle of `graph` as a list of modules, or None."""
  state: dict[str, int] = {}  # 1: on the current path, 2: done
  path: list[str] = []

  def visit(node: str) -> list[str] | None:
    state[node] = 1
    path.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 1:
        return path[path.index(nxt):] + [nxt]
      if nxt not in state:
        cycle = visit(nxt)
        if cycle:
          return cycle
    path.pop()
    state[node] = 2
    return None

  for node in sorted(graph):
    if node not in state:
      cycle = visit(node)
      if cycle:
        return cycle
  return None


def test_find_cycle_finds_a_circle_and_accepts_a_tree():
  assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
  assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circles_in_the_package():
  files = module_files()
  known = set(files)
  graph = {name: imported_modules(path, name, known) for name, path in files.items()}
  # Sanity: the walk sees real edges.
  assert "tldomain.data.core" in graph["tldomain.data.builders.folder"]
  cycle = find_cycle(graph)
  assert cycle is None, "import circle: " + " -> ".join(cycle)


# Imports the compute core with TensorFlow made unimportable, builds a DANN
# config, compiles the steps and trains one step on a synthetic batch.
NO_TENSORFLOW_STEP = r"""
import importlib.abc, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] in ("tensorflow", "tensorflow_datasets"):
      raise ImportError(f"{name} is blocked: the compute core must not need it")
    return None

sys.meta_path.insert(0, NoTensorFlow())
import numpy as np
from tldomain import compute, defaults, sharding
from tldomain.methods import get_method

config = defaults.set_method(defaults.base_config(), "dann")
config.model.bottleneck_dim = 16
config.method.discriminator_hidden = (16, 16)
config.data.batch_size = 4
config.train.steps = 10
mesh = sharding.make_mesh()
compiled = compute.compile_steps(config, get_method("dann"), 10, mesh)
rng = np.random.default_rng(0)
images = lambda: rng.normal(size=(4, 28, 28, 3)).astype(np.float32)
batch = sharding.global_batch({"source": {"image": images(), "label": np.arange(4, dtype=np.int32)},
                               "target": {"image": images()}}, mesh)
state, metrics = compiled.train_step(compiled.initial_state, batch)
assert int(state.step) == 1 and np.isfinite(float(metrics["loss"])), metrics
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tensorflow_datasets"))
assert not loaded, loaded
print("ok", float(metrics["loss"]))
"""


def test_compute_core_trains_a_dann_step_without_tensorflow():
  result = subprocess.run([sys.executable, "-c", NO_TENSORFLOW_STEP], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.startswith("ok ")
