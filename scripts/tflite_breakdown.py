"""Where an export's TFLite time goes, on 1 thread: XNNPACK or not, and the in-graph preprocessing.

  python scripts/tflite_breakdown.py --export=DIR [--height=227 --width=227] [--calls=30]

For model.tflite and model_int8.tflite in DIR (tldomain.export's folder) this
prints the number of XNNPACK partitions (DELEGATE nodes), the median time of
one `invoke()` on a random uint8 image with the default delegates (XNNPACK)
and with the builtin kernels only, and the time of the run's preprocessing
alone (serving.preprocess converted by itself: the crop and the float resize
that both files carry). Medians of 5 rounds of --calls calls; the process is
pinned to one CPU.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import collections  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

from absl import app, flags  # noqa: E402
import numpy as np  # noqa: E402

_EXPORT = flags.DEFINE_string("export", None, "An export folder (tldomain.export --out).")
_HEIGHT = flags.DEFINE_integer("height", 227, "Input image height (PACS: 227).")
_WIDTH = flags.DEFINE_integer("width", 227, "Input image width.")
_CALLS = flags.DEFINE_integer("calls", 30, "invoke() calls per round.")


def interpreter(content: bytes, image: np.ndarray, xnnpack: bool):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
  resolver = (tf.lite.experimental.OpResolverType.AUTO if xnnpack else
              tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  it = tf.lite.Interpreter(model_content=content, num_threads=1,
                           experimental_op_resolver_type=resolver)
  index = it.get_input_details()[0]["index"]
  it.resize_tensor_input(index, image.shape)
  it.allocate_tensors()
  it.set_tensor(index, image)
  return it


def median_ms(it, calls: int) -> float:
  for _ in range(3):
    it.invoke()
  rounds = []
  for _ in range(5):
    start = time.perf_counter()
    for _ in range(calls):
      it.invoke()
    rounds.append((time.perf_counter() - start) / calls * 1e3)
  return float(np.median(rounds))


def preprocess_only(transform: str, size: int) -> bytes:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  from tldomain import serving  # pylint: disable=g-import-not-at-top
  module = tf.Module()
  module.f = tf.function(lambda x: serving.preprocess(x, transform, size),
                         input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8)])
  return tf.lite.TFLiteConverter.from_concrete_functions(
      [module.f.get_concrete_function()], module).convert()


def main(argv):
  del argv
  os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
  with open(os.path.join(_EXPORT.value, "model.json"), encoding="utf-8") as f:
    metadata = json.load(f)
  image = np.random.default_rng(0).integers(0, 256, (1, _HEIGHT.value, _WIDTH.value, 3),
                                            np.uint8)
  print(f"load average before: {os.getloadavg()}")
  for name in ("model.tflite", "model_int8.tflite"):
    with open(os.path.join(_EXPORT.value, name), "rb") as f:
      content = f.read()
    fast = interpreter(content, image, xnnpack=True)
    nodes = collections.Counter(op["op_name"] for op in fast._get_ops_details())  # pylint: disable=protected-access
    print(f"{name}: {nodes['DELEGATE']} XNNPACK partitions; invoke "
          f"{median_ms(fast, _CALLS.value):.2f} ms, builtin kernels only "
          f"{median_ms(interpreter(content, image, xnnpack=False), _CALLS.value):.2f} ms")
  pre = interpreter(preprocess_only(metadata["eval_transform"], metadata["image_size"]), image,
                    xnnpack=True)
  print(f"preprocessing alone ({metadata['eval_transform']}, float): "
        f"{median_ms(pre, _CALLS.value):.2f} ms")
  if "int8_op_types" in metadata:
    print(f"int8 file, ops by output type: {json.dumps(metadata['int8_op_types'])}")
  print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
  flags.mark_flag_as_required("export")
  app.run(main)
