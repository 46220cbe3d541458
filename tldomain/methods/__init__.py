"""Adaptation methods. Importing this package registers the built-in ones."""

# Each import registers its methods.
from tldomain.methods import (adabn, cdan, coral, dann, entropy_min, fda,  # noqa: F401
                              importance_weighting, jan, mcc, mdd, mme, mmd, pixelda, s_plus_t,
                              shot, shot_im, source_only, tent)
from tldomain.methods.base import LossInputs, Method, Outputs
from tldomain.methods.registry import METHODS, get_method, import_user_module, register

__all__ = ["LossInputs", "METHODS", "Method", "Outputs", "get_method",
           "import_user_module", "register"]
