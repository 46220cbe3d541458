"""The XLA:CPU options tldomain runs with, added to XLA_FLAGS when tldomain is imported.

XLA reads XLA_FLAGS once, when JAX first creates a backend, so tldomain adds
its options at import (tldomain/__init__.py): import tldomain before running
anything in JAX. An option already in XLA_FLAGS is left as the user set it, and
TLDOMAIN_XLA_DEFAULTS=0 adds none. The options name only XLA:CPU, so they
change nothing on GPUs and TPUs.
"""

import os

# Convolutions on XLA's own (Eigen) kernels, not YNNPACK's: YNNPACK computed
# the weight gradients of the ResNet and digits convolutions 2-4x slower
# (3x3 conv at 56x56x64, batch 16: 158 against 42 ms). DANN step on 2 cores,
# alternating rounds: ResNet-50 2.57 -> 3.09 images/s, digits 1448 -> 1851
# (README, Benchmarks). Matrix products and elementwise fusions keep YNNPACK.
DEFAULT_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=-individual_convolution",)
# The first jaxlib these options were measured on; older ones may not know
# them, and XLA aborts on an unknown flag.
MIN_JAXLIB = (0, 10)


def _option(flag: str) -> str:
  return flag.lstrip("-").split("=", 1)[0]


def with_defaults(xla_flags: str, jaxlib_version: tuple[int, ...]) -> str:
  """`xla_flags` with each default option it does not already set."""
  if tuple(jaxlib_version[:2]) < MIN_JAXLIB:
    return xla_flags
  present = {_option(f) for f in xla_flags.split()}
  added = [f for f in DEFAULT_FLAGS if _option(f) not in present]
  return " ".join([xla_flags.strip(), *added]).strip()


def add_default_flags(environ=os.environ) -> None:
  """Adds DEFAULT_FLAGS to environ["XLA_FLAGS"] (see the module docstring)."""
  if environ.get("TLDOMAIN_XLA_DEFAULTS", "1") == "0":
    return
  try:
    from jaxlib import version  # pylint: disable=g-import-not-at-top
    jaxlib_version = tuple(int(p) for p in version.__version__.split(".")[:2])
  except (ImportError, ValueError):
    return
  environ["XLA_FLAGS"] = with_defaults(environ.get("XLA_FLAGS", ""), jaxlib_version)
