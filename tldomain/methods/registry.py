"""Methods by name. A method file calls `register(Method(...))` at import time."""

import importlib
import importlib.util
import os
import sys

from tldomain.methods.base import Method
from tldomain.registry import Registry

METHODS: Registry[Method] = Registry("method")


def register(method: Method, *, overwrite: bool = False) -> Method:
  return METHODS.register(method.name, method, overwrite=overwrite)


def get_method(name: str) -> Method:
  return METHODS.get(name)


def import_user_module(spec: str) -> None:
  """Imports a user's method file so that it registers itself.

  `spec` is a module path (`my_project.losses`) or a path to a `.py` file.
  """
  if spec.endswith(".py") or os.sep in spec:
    if not os.path.isfile(spec):
      raise FileNotFoundError(f"Cannot import {spec!r}: no such file.")
    name = "tldomain_user_" + os.path.splitext(os.path.basename(spec))[0]
    module_spec = importlib.util.spec_from_file_location(name, spec)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
  else:
    importlib.import_module(spec)
