"""Classify image files with an exported model or a finished run.

  python -m tldomain.predict --model=DIR image.jpg [folder/ ...] [--top_k=5] [--format=...]

DIR is an export folder (python -m tldomain.export; its SavedModel is used, else
model.tflite, else model_int8.tflite, or the one --format names) or a finished
run's workdir (its latest checkpoint, in JAX). Folders are searched
recursively for image files (IMAGE_EXTENSIONS). Prints one line per image:

  path: class (probability), ... the top_k classes, most probable first

Images are converted to 8-bit RGB as `to_rgb_uint8` documents (grey is
replicated, alpha dropped, 16-bit scaled). A file that cannot be read is
reported by name on stderr and the others are still classified; the exit
status is 1 if any input failed.
"""

import json
import os
import sys
from typing import Callable, Iterator, Sequence

from absl import app, flags
import numpy as np
from PIL import Image, UnidentifiedImageError

from tldomain.console import quiet_library_logs

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                    ".ppm", ".pgm", ".pbm")
EXPORTED = ("saved_model", "tflite", "tflite_int8")


def to_rgb_uint8(image: Image.Image) -> np.ndarray:
  """A PIL image as uint8 (H, W, 3) RGB, for any mode PIL opens.

  - grey (L, 1 = bilevel): the one channel replicated to three, as training does
    (tldomain/data/transforms.to_rgb);
  - alpha (RGBA, LA, PA, transparent palettes): the alpha channel is dropped and
    the colour channels kept as stored (no compositing);
  - 16- and 32-bit integer grey (I;16*, I): values v in [0, 65535] become
    round(v / 257), so 65535 -> 255; values outside are clipped;
  - float grey (F): clipped to [0, 255] and rounded;
  - palette, CMYK, YCbCr, LAB, HSV: PIL's conversion to RGB.
  Multi-frame files (GIF, TIFF) give their first frame. EXIF orientation is not
  applied, as the training data builders do not apply it either.
  """
  mode = image.mode
  if mode.startswith("I;16") or mode == "I":
    grey = np.asarray(image, dtype=np.float64)
    grey = np.clip(np.round(grey / 257.0), 0, 255).astype(np.uint8)
  elif mode == "F":
    grey = np.clip(np.round(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
  else:
    grey = None
  if grey is not None:
    return np.repeat(grey[..., None], 3, axis=-1)
  if mode in ("L", "1", "LA"):
    grey = np.asarray(image.convert("L"), np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)
  return np.asarray(image.convert("RGB"), np.uint8)


def read_image(path: str) -> np.ndarray:
  """The image at `path` as uint8 RGB; raises ValueError naming the problem."""
  try:
    with Image.open(path) as image:
      image.load()
      return to_rgb_uint8(image)
  except UnidentifiedImageError:
    raise ValueError("not an image PIL can read (corrupt, or an unknown format)") from None
  except (OSError, SyntaxError) as e:  # truncated or damaged files
    raise ValueError(f"cannot decode: {e}") from None


def image_paths(inputs: Sequence[str]) -> Iterator[tuple[str, str | None]]:
  """(path, None) for each image to classify, (input, why) for each input that gives none."""
  for item in inputs:
    if os.path.isdir(item):
      found = sorted(os.path.join(root, name) for root, _, names in os.walk(item)
                     for name in names if name.lower().endswith(IMAGE_EXTENSIONS))
      if not found:
        yield item, (f"folder holds no image files (looked for "
                     f"{', '.join(IMAGE_EXTENSIONS)})")
      for path in found:
        yield path, None
    elif os.path.isfile(item):
      yield item, None
    else:
      yield item, "no such file or folder"


class TFLiteModel:
  """An exported .tflite file: one uint8 image (H, W, 3) of any size -> probabilities.

  The input is resized (and the tensors reallocated) only when the image size
  changes, not on every call as a signature runner does.
  """

  def __init__(self, path: str, num_threads: int | None = None):
    from tldomain.export import tflite_interpreter  # pylint: disable=g-import-not-at-top
    self.interpreter = tflite_interpreter(model_path=path, num_threads=num_threads)
    runner = self.interpreter.get_signature_runner()
    self._input = runner.get_input_details()["images"]["index"]
    self._outputs = {k: v["index"] for k, v in runner.get_output_details().items()}
    self._shape = None

  def outputs(self, image: np.ndarray) -> dict[str, np.ndarray]:
    batch = image[None]
    if batch.shape != self._shape:
      self.interpreter.resize_tensor_input(self._input, batch.shape)
      self.interpreter.allocate_tensors()
      self._shape = batch.shape
    self.interpreter.set_tensor(self._input, batch)
    self.interpreter.invoke()
    return {k: self.interpreter.get_tensor(i)[0] for k, i in self._outputs.items()}

  def __call__(self, image: np.ndarray) -> np.ndarray:
    return self.outputs(image)["probabilities"]


class SavedModel:
  """An exported SavedModel: uint8 images (H, W, 3) -> probabilities."""

  def __init__(self, path: str):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self.serve = tf.saved_model.load(path).signatures["serving_default"]

  def outputs(self, image: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v.numpy()[0] for k, v in self.serve(images=image[None]).items()}

  def __call__(self, image: np.ndarray) -> np.ndarray:
    return self.outputs(image)["probabilities"]


class RunModel:
  """A finished run's classifier in JAX, behind the export's preprocessing."""

  def __init__(self, workdir: str, checkpoint: str = "latest"):
    import jax  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    from tldomain import classifier, serving  # pylint: disable=g-import-not-at-top
    self.classifier = classifier.restore(workdir, checkpoint)
    c = self.classifier
    serving.check_transform(c.config.data.eval_transform)
    self._preprocess = lambda image: serving.preprocess(
        tf.constant(image[None]), c.config.data.eval_transform, c.image_size).numpy()
    self._logits = jax.jit(c.logits)
    self.class_names = c.class_names

  def __call__(self, image: np.ndarray) -> np.ndarray:
    import jax  # pylint: disable=g-import-not-at-top
    logits = self._logits(self._preprocess(image))
    return np.asarray(jax.nn.softmax(logits))[0]


def load_model(path: str, fmt: str = "") -> tuple[Callable[[np.ndarray], np.ndarray],
                                                   tuple[str, ...]]:
  """(model, class names) from an export folder or a finished run's workdir."""
  from tldomain import export  # pylint: disable=g-import-not-at-top
  metadata_path = os.path.join(path, export.METADATA)
  if os.path.exists(metadata_path):
    with open(metadata_path, encoding="utf-8") as f:
      metadata = json.load(f)
    files = metadata["files"]
    choice = fmt or next((f for f in EXPORTED if f in files), None)
    if choice not in files:
      raise ValueError(f"{path} holds no {choice or 'exported'} model; it has "
                       f"{', '.join(files) or 'none'}.")
    file = os.path.join(path, files[choice])
    model = SavedModel(file) if choice == "saved_model" else TFLiteModel(file)
    return model, tuple(metadata["class_names"])
  if os.path.exists(os.path.join(path, "config.json")):
    if fmt:
      raise ValueError(f"{path} is a run's workdir; --format applies to export folders.")
    model = RunModel(path)
    return model, model.class_names
  raise ValueError(f"{path} is neither an export folder (no {export.METADATA}; make one with "
                   "python -m tldomain.export) nor a run's workdir (no config.json).")


def top_k(probabilities: np.ndarray, names: Sequence[str], k: int) -> list[tuple[str, float]]:
  order = np.argsort(-probabilities, kind="stable")[:k]
  return [(names[i], float(probabilities[i])) for i in order]


def predict(model, names: Sequence[str], inputs: Sequence[str], k: int,
            out=sys.stdout, err=sys.stderr) -> int:
  """Prints each image's top-k classes; returns how many inputs failed."""
  failures = 0
  for path, problem in image_paths(inputs):
    if problem is None:
      try:
        image = read_image(path)
      except ValueError as e:
        problem = str(e)
    if problem is not None:
      failures += 1
      print(f"{path}: error: {problem}", file=err)
      continue
    ranked = top_k(model(image), names, k)
    print(f"{path}: " + ", ".join(f"{name} ({p:.3f})" for name, p in ranked), file=out)
  return failures


def cli() -> None:
  """The command line (flags are defined here so that importing this module defines none)."""
  model_flag = flags.DEFINE_string("model", None, "An export folder or a finished run's workdir.")
  top_k_flag = flags.DEFINE_integer("top_k", 5, "Classes to print per image.")
  format_flag = flags.DEFINE_enum("format", "", ["", *EXPORTED],
                                  "Which model of an export folder; default: the first of "
                                  f"{', '.join(EXPORTED)} it holds.")
  flags.mark_flag_as_required("model")

  def main(argv: list[str]) -> None:
    if len(argv) < 2:
      raise app.UsageError("Name at least one image file or folder.")
    if top_k_flag.value < 1:
      raise app.UsageError("--top_k must be at least 1.")
    quiet_library_logs()
    try:
      model, names = load_model(model_flag.value, format_flag.value)
    except ValueError as e:
      raise SystemExit(f"Cannot load {model_flag.value}: {e}") from None
    failures = predict(model, names, argv[1:], top_k_flag.value)
    if failures:
      print(f"{failures} input(s) failed.", file=sys.stderr)
      sys.exit(1)

  app.run(main)


if __name__ == "__main__":
  cli()
