"""Adaptation methods. Importing this package registers the built-in ones."""

from tldomain.methods import dann, source_only  # noqa: F401  (registration)
from tldomain.methods.base import LossInputs, Method, Outputs
from tldomain.methods.registry import METHODS, get_method, import_user_module, register

__all__ = ["LossInputs", "METHODS", "Method", "Outputs", "get_method",
           "import_user_module", "register"]
