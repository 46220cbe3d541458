"""Making PyTorch importable in a process that already loaded TensorFlow.

On import, torch (through torch._dynamo) probes for triton, its GPU kernel
compiler. Triton's bundled LLVM crashes the process with a segmentation fault
when TensorFlow's is already loaded. Nothing tldomain does with torch (reading
weight files, reference models on CPU) needs triton, so it is marked absent.
"""

import sys


def block_triton() -> None:
  """Makes `import triton` fail cleanly unless triton is already imported."""
  sys.modules.setdefault("triton", None)
