import os
import subprocess
import sys
import textwrap


def test_weights_file_reads_in_a_process_that_loaded_tensorflow_first(resnet18_file):
  """torchvision's import probes triton, which segfaults after TensorFlow unless blocked."""
  code = textwrap.dedent(f"""
      import tensorflow, jax
      import tldomain.data
      from tldomain.models import convert
      weights = convert.read_state_dict({resnet18_file!r})
      import torchvision  # imports torch._dynamo, which probes triton
      print(len(weights))
  """)
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert int(out.stdout.strip().splitlines()[-1]) > 100
