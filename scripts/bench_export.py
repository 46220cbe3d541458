"""Size, 1-thread speed and target accuracy of runs and their exports, in one run.

  python scripts/bench_export.py --workdir=RUN [--workdir=RUN2 ...] --export_root=DIR \
      [--examples=0] [--rounds=7] [--round_images=200] [--out=results.json] \
      [--before_timing=CMD --after_timing=CMD]

For each finished run (exported into DIR/<run name>/ first if that folder
lacks a format; the run name is the workdir's folder name, or
<parent>_<folder> for a suite's <method>/seedN folders) this measures three
forms of its classifier (train.mode=features runs too: their backbone is
rebuilt from the config, tldomain/classifier.py):

- jax: the JAX classifier (tldomain.classifier), jitted, batch 1, on images the
  run's own eval transform (the tf.data path) already made; so its latency
  leaves the preprocessing out, which the TFLite figures include.
- tflite: model.tflite; int8: model_int8.tflite, one uint8 image at a time
  (the exported graph resizes and normalises).

Size on disk: the .tflite files; for JAX the classifier's float32 parameters
(what a checkpoint of them holds; the run's own checkpoints also keep the
optimizer state). Latency: the process is pinned to one CPU, XLA, TensorFlow
and the TFLite interpreters use one thread; each round times `--round_images`
images per model, the models alternating round by round so that load changes
hit them alike, and the median over rounds is reported. The load average is
printed before and after (the machine may be shared); --before_timing and
--after_timing are shell commands run around the timing rounds only (e.g. to
pause other jobs on a shared machine; the second runs even if timing fails).
Accuracy: every image of the run's target test split (or its first
--examples), through each model; JAX in batches of 50 (same logits).
"""

import os
import sys

# This checkout's tldomain, not an installed one.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# One thread everywhere, before JAX and TensorFlow start their pools.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402
import numpy as np  # noqa: E402

_WORKDIRS = flags.DEFINE_multi_string("workdir", [], "Finished runs to measure.")
_EXPORT_ROOT = flags.DEFINE_string("export_root", None, "Where each run's export folder is.")
_EXAMPLES = flags.DEFINE_integer("examples", 0, "Target test images for accuracy (0: all).")
_ROUNDS = flags.DEFINE_integer("rounds", 7, "Timing rounds (median reported).")
_ROUND_IMAGES = flags.DEFINE_integer("round_images", 200, "Images timed per model per round.")
_OUT = flags.DEFINE_string("out", "", "Also write the measurements to this JSON file.")
_BEFORE = flags.DEFINE_string("before_timing", "", "Shell command run before the timing rounds.")
_AFTER = flags.DEFINE_string("after_timing", "", "Shell command run after the timing rounds.")

FORMS = ("jax", "tflite", "tflite_int8")


def target_test(config, limit: int):
  """(the split, its uint8 RGB images, labels) of the run's target test split."""
  from tldomain import data  # pylint: disable=g-import-not-at-top
  from tldomain.export import rgb_uint8  # pylint: disable=g-import-not-at-top
  d = config.data
  domain = data.DOMAINS.get(d.target)
  split = data.load_split(d.target, d.target_test_split or domain.test_split,
                          data_dir=d.data_dir or None, manual_dir=d.manual_dir or None)
  if limit:
    split = split.take(np.arange(min(limit, len(split))))
  raw = [rgb_uint8(image, split.encoded) for image in split.images]
  return split, raw, np.asarray(split.labels)


def model_inputs(config, split, batch_size: int):
  """Batches of the run's eval transform of `split` (the tf.data path), in order."""
  from tldomain import data  # pylint: disable=g-import-not-at-top
  d = config.data
  for b in data.eval_batches(split, batch_size, d.eval_transform, d.image_size):
    yield b["image"][b["mask"]]


def run_name(workdir: str) -> str:
  """The workdir's folder name; <parent>_<folder> for a suite's <method>/seedN."""
  parts = os.path.normpath(workdir).split(os.sep)
  return f"{parts[-2]}_{parts[-1]}" if re.fullmatch(r"seed\d+", parts[-1]) else parts[-1]


def folder_bytes(path: str) -> int:
  return sum(os.path.getsize(os.path.join(root, name))
             for root, _, names in os.walk(path) for name in names)


def measure_run(workdir: str, export_root: str, limit: int, timed_images: int) -> dict:
  import jax  # pylint: disable=g-import-not-at-top

  from tldomain import classifier, export, predict  # pylint: disable=g-import-not-at-top
  restored = classifier.restore(workdir)
  out = os.path.join(export_root, run_name(workdir))
  missing = [f for f in ("tflite", "tflite_int8")
             if not os.path.exists(os.path.join(out, export.FILES[f]))]
  if missing:
    export.export(workdir, missing, out)
  split, raw, labels = target_test(restored.config, limit)
  logits = jax.jit(restored.logits)
  jax_predictions = np.concatenate([np.asarray(logits(x)).argmax(1)
                                    for x in model_inputs(restored.config, split, 50)])
  # The timed JAX calls take one preprocessed image each, as TFLite takes one image.
  timed = next(model_inputs(restored.config, split.take(np.arange(min(timed_images, len(split)))),
                            timed_images))
  models = {
      "jax": lambda i: np.asarray(logits(timed[i:i + 1]))[0],
      "tflite": predict.TFLiteModel(os.path.join(out, "model.tflite"), num_threads=1),
      "tflite_int8": predict.TFLiteModel(os.path.join(out, "model_int8.tflite"),
                                         num_threads=1),
  }
  run = {
      "jax": lambda i: models["jax"](i % len(timed)),
      "tflite": lambda i: models["tflite"](raw[i]),
      "tflite_int8": lambda i: models["tflite_int8"](raw[i]),
  }
  accuracy = {"jax": float(np.mean(jax_predictions == labels))}
  for form in ("tflite", "tflite_int8"):
    accuracy[form] = float(np.mean([np.argmax(run[form](i)) == labels[i]
                                    for i in range(len(labels))]))
  sizes = {"jax": 4 * restored.num_parameters,
           "tflite": os.path.getsize(os.path.join(out, "model.tflite")),
           "tflite_int8": os.path.getsize(os.path.join(out, "model_int8.tflite"))}
  return {"workdir": workdir, "name": run_name(workdir), "method": restored.config.method.name,
          "mode": restored.config.train.mode, "backbone": restored.config.model.backbone,
          "parameters": restored.num_parameters, "size_bytes": sizes, "accuracy": accuracy,
          "run": run, "count": len(labels), "timed_count": len(timed)}


def shell(command: str) -> None:
  if command:
    subprocess.run(command, shell=True, check=True)


def main(argv):
  del argv
  os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
  print(f"load average before: {os.getloadavg()}")
  n = _ROUND_IMAGES.value
  runs = [measure_run(w, _EXPORT_ROOT.value, _EXAMPLES.value, n) for w in _WORKDIRS.value]
  times = {(r["workdir"], f): [] for r in runs for f in FORMS}
  load = {"before_timing": None, "after_timing": None}
  shell(_BEFORE.value)
  try:
    load["before_timing"] = os.getloadavg()
    print(f"load average before timing: {load['before_timing']}")
    for r in runs:  # warm-up: compile, allocate
      for form in FORMS:
        for i in range(10):
          r["run"][form](i)
    for _ in range(_ROUNDS.value):
      for r in runs:
        for form in FORMS:
          start = time.perf_counter()
          for i in range(n):
            r["run"][form](i % r["timed_count"])
          times[r["workdir"], form].append((time.perf_counter() - start) / n)
    load["after_timing"] = os.getloadavg()
  finally:
    shell(_AFTER.value)
  print(f"load average after timing: {load['after_timing']}")
  rows = []
  print("| run | method | mode | form | parameters | MB on disk | ms / image | images/s | "
        "target accuracy (%) |")
  print("|---|---|---|---|---|---|---|---|---|")
  for r in runs:
    for form in FORMS:
      latency = float(np.median(times[r["workdir"], form]))
      row = {"run": r["name"], "method": r["method"], "mode": r["mode"],
             "backbone": r["backbone"], "form": form, "parameters": r["parameters"],
             "megabytes": r["size_bytes"][form] / 1e6, "ms_per_image": 1e3 * latency,
             "images_per_second": 1.0 / latency, "target_accuracy": 100 * r["accuracy"][form],
             "examples": r["count"], "round_ms": [1e3 * t for t in times[r["workdir"], form]]}
      rows.append(row)
      print(f"| {row['run']} | {row['method']} | {row['mode']} | {form} | {row['parameters']} | "
            f"{row['megabytes']:.3f} | {row['ms_per_image']:.3f} | "
            f"{row['images_per_second']:.0f} | {row['target_accuracy']:.2f} |")
  if _OUT.value:
    with open(_OUT.value, "w", encoding="utf-8") as f:
      json.dump({"rows": rows, "threads": 1, "rounds": _ROUNDS.value, "round_images": n,
                 "load_average": load}, f, indent=2)


if __name__ == "__main__":
  flags.mark_flag_as_required("export_root")
  app.run(main)
