"""Adaptation methods. Importing this package registers the built-in ones."""

# Each import registers its methods.
from tldomain.methods import (cdan, coral, dann, entropy_min, importance_weighting,  # noqa: F401
                              jan, mcc, mdd, mmd, source_only)
from tldomain.methods.base import LossInputs, Method, Outputs
from tldomain.methods.registry import METHODS, get_method, import_user_module, register

__all__ = ["LossInputs", "METHODS", "Method", "Outputs", "get_method",
           "import_user_module", "register"]
