"""tldomain: transfer learning and unsupervised domain adaptation in JAX/Flax."""

from tldomain import xla_cpu as _xla_cpu

__version__ = "0.1.0"

# XLA:CPU options (tldomain/xla_cpu.py); before JAX creates its backend.
_xla_cpu.add_default_flags()
