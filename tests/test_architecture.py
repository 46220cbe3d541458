"""The package's shape: no import circles, and a compute core without TensorFlow."""

import ast
import os
import subprocess
import sys

import pytest

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
