"""Export a finished run's classifier: SavedModel, float TFLite, int8 TFLite.

  python -m tldomain.export --workdir=RUN --format=saved_model,tflite,tflite_int8 --out=DIR \
      [--checkpoint=latest|best]

Each export maps uint8 RGB images of any size, (N, H, W, 3), to the logits and
class probabilities of the run's classifier (backbone, bottleneck, head in
inference mode, each BatchNorm computed as one multiply-add, each depthwise
convolution as one grouped convolution), with the run's
eval transform in the graph (tldomain/serving.py). The JAX model is turned into
TensorFlow by jax2tf (jax.experimental.jax2tf, StableHLO serialisation); TFLite
files come from tf.lite.TFLiteConverter. DIR gets:

  saved_model/        signature serving_default: images (N, H, W, 3) uint8 -> logits, probabilities
  model.tflite        the same, one image at a time (1, H, W, 3)
  model_int8.tflite   int8 post-training quantisation, calibrated on unlabelled
                      target train images (the domain the model will see)
  labels.txt          class names, one a line, in output order
  model.json          what was exported, from which run and checkpoint
"""

import json
import os
from typing import Iterator

from absl import app, flags, logging
import numpy as np

from tldomain.console import quiet_library_logs

FORMATS = ("saved_model", "tflite", "tflite_int8")
FILES = {"saved_model": "saved_model", "tflite": "model.tflite",
         "tflite_int8": "model_int8.tflite"}
METADATA, LABELS = "model.json", "labels.txt"


def serving_module(classifier, batch_size: int | None):
  """A tf.Module whose `serve(images)` maps uint8 (batch, H, W, 3) to logits and probabilities."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from jax.experimental import jax2tf  # pylint: disable=g-import-not-at-top

  from tldomain import serving  # pylint: disable=g-import-not-at-top
  from tldomain.models import depthwise  # pylint: disable=g-import-not-at-top

  size, transform = classifier.image_size, classifier.config.data.eval_transform
  serving.check_transform(transform)
  batch = "b" if batch_size is None else str(batch_size)

  def logits(images):
    # Depthwise convolutions as grouped convolutions: TFLite's DEPTHWISE_CONV_2D
    # (the shifted multiply-adds that train fast on XLA:CPU ran Lite0 10x slower).
    with depthwise.grouped_convolution():
      return classifier.logits(images, fold_batch_norm=True)

  logits_tf = jax2tf.convert(logits,
                             polymorphic_shapes=[f"({batch}, {size}, {size}, 3)"],
                             with_gradient=False)
  module = tf.Module()

  @tf.function(input_signature=[tf.TensorSpec([batch_size, None, None, 3], tf.uint8,
                                              name="images")], autograph=False)
  def serve(images):
    logits = logits_tf(serving.preprocess(images, transform, size))
    return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

  module.serve = serve
  return module


def representative_images(classifier, count: int) -> list[np.ndarray]:
  """`count` fixed random uint8 RGB images of the run's unlabelled target train split."""
  from tldomain import data, run_data  # pylint: disable=g-import-not-at-top
  d = classifier.config.data
  domain = data.DOMAINS.get(d.target)
  split = data.load_split(d.target, d.target_train_split or domain.train_split,
                          data_dir=d.data_dir or None, manual_dir=d.manual_dir or None)
  if split.streamed:
    raise ValueError(f"{d.target}'s train split is streamed from its files; int8 calibration "
                     "reads in-memory splits only.")
  chosen = run_data.subset(split, count)
  return [rgb_uint8(image, chosen.encoded) for image in chosen.images]


def rgb_uint8(image, encoded: bool) -> np.ndarray:
  """A split's image (decoded, or encoded bytes) as uint8 (H, W, 3)."""
  if encoded:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    image = tf.io.decode_image(image, channels=3, expand_animations=False).numpy()
  image = np.asarray(image, np.uint8)
  return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def export_saved_model(classifier, path: str) -> None:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  module = serving_module(classifier, batch_size=None)
  tf.saved_model.save(module, path, signatures={"serving_default": module.serve})


# The op types of serving.resize. Quantising its weight arithmetic and matrix
# products to int8 wrecks the image (measured: 18 % of int8 predictions agreed
# with float), so they stay float; the classifier's own ops are quantised.
FLOAT_OPS = ("BATCH_MATMUL", "SUM", "DIV", "TRANSPOSE")


def tflite_bytes(classifier, int8_images: list[np.ndarray] | None = None) -> bytes:
  """The float TFLite model, or with `int8_images` (uint8 (H, W, 3) each) the int8 one.

  int8: weights and activations quantised, calibrated on those images, except
  the resize's ops (FLOAT_OPS), and ops without an int8 kernel, which stay
  float. The selective quantisation goes through tf.lite's QuantizationDebugger,
  the converter's way to keep named op types float.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  module = serving_module(classifier, batch_size=1)
  concrete = module.serve.get_concrete_function()
  converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
  if int8_images is None:
    return converter.convert()
  representative = lambda: ([image[None]] for image in int8_images)
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.representative_dataset = representative
  debugger = tf.lite.experimental.QuantizationDebugger(
      converter=converter, debug_dataset=representative,
      debug_options=tf.lite.experimental.QuantizationDebugOptions(
          denylisted_ops=list(FLOAT_OPS)))
  return debugger.get_nondebug_quantized_model()


def tflite_interpreter(model_path: str | None = None, model_content: bytes | None = None,
                       num_threads: int | None = None):
  """A TFLite interpreter: LiteRT's (ai_edge_litert) if installed, else tf.lite's."""
  try:
    from ai_edge_litert.interpreter import Interpreter  # pylint: disable=g-import-not-at-top
  except ImportError:
    import warnings  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
    Interpreter = tf.lite.Interpreter  # pylint: disable=invalid-name
  return Interpreter(model_path=model_path, model_content=model_content,
                     num_threads=num_threads)


def tflite_op_types(model: bytes) -> dict[str, dict[str, int]]:
  """{"int8": {op: count}, "float": {op: count}}: each op by the type of its first output."""
  interpreter = tflite_interpreter(model_content=model)
  tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
  kinds: dict[str, dict[str, int]] = {"int8": {}, "float": {}, "other": {}}
  for op in interpreter._get_ops_details():  # pylint: disable=protected-access
    outputs = [tensors[i]["dtype"] for i in op["outputs"] if i in tensors]
    dtype = np.dtype(outputs[0]) if outputs else None
    kind = ("int8" if dtype in (np.dtype(np.int8), np.dtype(np.uint8)) else
            "float" if dtype is not None and np.issubdtype(dtype, np.floating) else "other")
    kinds[kind][op["op_name"]] = kinds[kind].get(op["op_name"], 0) + 1
  return kinds


def export(workdir: str, formats: list[str], out: str, checkpoint: str = "latest",
           representative_examples: int = 200) -> dict:
  """Writes the requested formats of the run's classifier to `out`; returns model.json's contents."""
  from tldomain import classifier as classifier_lib  # pylint: disable=g-import-not-at-top
  unknown = sorted(set(formats) - set(FORMATS))
  if unknown or not formats:
    raise ValueError(f"Unknown export format(s) {unknown or formats}; valid: {', '.join(FORMATS)}.")
  classifier = classifier_lib.restore(workdir, checkpoint)
  os.makedirs(out, exist_ok=True)
  d = classifier.config.data
  metadata = {
      "workdir": os.path.abspath(workdir), "checkpoint": checkpoint, "step": classifier.step,
      "method": classifier.config.method.name, "mode": classifier.config.train.mode,
      "backbone": classifier.config.model.backbone, "source": d.source, "target": d.target,
      "num_parameters": classifier.num_parameters, "image_size": d.image_size,
      "eval_transform": d.eval_transform, "class_names": list(classifier.class_names),
      "input": "images: uint8 RGB (N, H, W, 3), any H and W (TFLite: N = 1)",
      "outputs": ["logits", "probabilities"], "files": {},
  }
  for fmt in formats:
    path = os.path.join(out, FILES[fmt])
    logging.info("Exporting %s to %s.", fmt, path)
    if fmt == "saved_model":
      export_saved_model(classifier, path)
    else:
      images = None
      if fmt == "tflite_int8":
        images = representative_images(classifier, representative_examples)
        metadata["int8_calibration"] = {"split": f"{d.target} train (unlabelled)",
                                        "examples": len(images)}
      model = tflite_bytes(classifier, images)
      with open(path, "wb") as f:
        f.write(model)
      if fmt == "tflite_int8":
        metadata["int8_op_types"] = tflite_op_types(model)
    metadata["files"][fmt] = FILES[fmt]
  previous = os.path.join(out, METADATA)
  if os.path.exists(previous):  # formats exported earlier into the same folder stay listed
    with open(previous, encoding="utf-8") as f:
      old = json.load(f)
    if old.get("workdir") == metadata["workdir"] and old.get("step") == metadata["step"]:
      metadata["files"] = {**old.get("files", {}), **metadata["files"]}
      for key in ("int8_calibration", "int8_op_types"):
        metadata.setdefault(key, old.get(key))
  with open(os.path.join(out, LABELS), "w", encoding="utf-8") as f:
    f.write("".join(f"{name}\n" for name in classifier.class_names))
  with open(previous, "w", encoding="utf-8") as f:
    json.dump({k: v for k, v in metadata.items() if v is not None}, f, indent=2)
  return metadata


def cli() -> None:
  """The command line (flags are defined here so that importing this module defines none)."""
  workdir = flags.DEFINE_string("workdir", None, "A finished run's workdir.")
  formats = flags.DEFINE_list("format", ["saved_model"], f"Comma-separated: {', '.join(FORMATS)}.")
  out = flags.DEFINE_string("out", None, "Output folder.")
  checkpoint = flags.DEFINE_enum("checkpoint", "latest", ["latest", "best"],
                                 "Which checkpoint: the final one, or the best by the run's "
                                 "checkpoint.best_metric.")
  representative = flags.DEFINE_integer(
      "representative_examples", 200, "int8: unlabelled target train images to calibrate on.")
  flags.mark_flags_as_required(["workdir", "out"])

  def main(argv: list[str]) -> None:
    if len(argv) > 1:
      raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    quiet_library_logs()
    from tldomain.classifier import NotExportableError  # pylint: disable=g-import-not-at-top
    try:
      metadata = export(workdir.value, formats.value, out.value, checkpoint.value,
                        representative.value)
    except (NotExportableError, ValueError) as e:
      raise SystemExit(f"Cannot export {workdir.value}: {e}") from None
    for fmt, name in metadata["files"].items():
      print(f"{fmt}: {os.path.join(out.value, name)}")

  app.run(main)


if __name__ == "__main__":
  cli()
