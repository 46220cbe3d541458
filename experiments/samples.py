"""Sample grids of pixel-level runs: source images, their target-like versions
(PixelDA's generator or FDA), and real target images, one labelled row each.

Used by experiments/collect.py for every run whose config trains on generated
(method pixelda) or FDA (data.fda_beta > 0) images.
"""

import json
import os

import numpy as np

from tldomain.data.transforms import IMAGENET_MEAN, IMAGENET_STD


def is_pixel_level(config: dict) -> bool:
  return config["method"]["name"] == "pixelda" or config["data"].get("fda_beta", 0.0) > 0


def pixel_level_runs(workdir: str) -> list[str]:
  """Folders under `workdir` holding a pixel-level run's config.json and a checkpoint."""
  found = []
  for root, dirs, files in sorted(os.walk(workdir)):
    if "config.json" in files and "checkpoints" in dirs:
      with open(os.path.join(root, "config.json"), encoding="utf-8") as f:
        if is_pixel_level(json.load(f)):
          found.append(root)
  return found


def to_display(images: np.ndarray, transform: str) -> np.ndarray:
  """Normalised model inputs back to [0, 1] RGB for display."""
  if transform.startswith("digits"):
    return np.clip(images * 0.5 + 0.5, 0, 1)
  return np.clip(images * np.asarray(IMAGENET_STD) + np.asarray(IMAGENET_MEAN), 0, 1)


def first_images(split, size: int, transform: str, image_size: int) -> np.ndarray:
  """`size` images of a fixed random subset of `split` (run_data.subset), transformed."""
  from tldomain import data, run_data  # pylint: disable=g-import-not-at-top
  batch = next(data.eval_batches(run_data.subset(split, size), size, transform, image_size))
  return batch["image"][:size]


def pixelda_rows(run_dir: str, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(source, generated, target) images of a PixelDA run's latest checkpoint.

  The generator runs on BatchNorm batch statistics, as in training, with noise
  drawn from a fixed key.
  """
  import jax  # pylint: disable=g-import-not-at-top
  from tldomain import compute  # pylint: disable=g-import-not-at-top
  from tldomain.inference import RestoredRun  # pylint: disable=g-import-not-at-top
  from tldomain.methods import get_method  # pylint: disable=g-import-not-at-top
  run = RestoredRun(run_dir)
  c = run.config
  modules = compute.build_modules(c.model, get_method(c.method.name), c.method,
                                  run.data.num_classes)
  source = first_images(run.data.source_train, size, c.data.eval_transform, c.data.image_size)
  target = first_images(run.data.target_train_all, size, c.data.eval_transform,
                        c.data.image_size)
  params, stats = jax.device_get((run.state.params, run.state.batch_stats))
  noise = jax.random.uniform(jax.random.key(0), (len(source), c.method.noise_dim),
                             minval=-1.0, maxval=1.0)
  generated, _ = modules["generator"].apply(
      {"params": params["generator"], "batch_stats": stats["generator"]}, source, noise,
      train=True, mutable=["batch_stats"])
  return source, np.asarray(generated), target


def fda_rows(run_dir: str, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(source, FDA, target) images: the run's first training examples without and
  with FDA (same stream, same transform), and target images."""
  from tldomain import data, run_data, saved_config  # pylint: disable=g-import-not-at-top
  c = saved_config.load(run_dir)
  d = c.data
  rd = run_data.RunData(d, uses_target=True, selection_examples=c.selection.num_examples)
  seed = run_data.stream_seed(c.seed, "source")
  stream = lambda style: next(data.train_stream(rd.source_train, size, seed, 0,
                                                d.train_transform, d.image_size, style))
  source = stream(None)["image"]
  styled = stream(run_data.fda_style(d, rd, c.seed))["image"]
  target = first_images(rd.target_train_all, size, d.eval_transform, d.image_size)
  return source, styled, target


def plot_samples(run_dir: str, path: str, size: int = 10) -> None:
  """Writes the grid of `run_dir` (a pixel-level run) to `path`."""
  from experiments.report import pyplot  # pylint: disable=g-import-not-at-top
  with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
    config = json.load(f)
  pixelda = config["method"]["name"] == "pixelda"
  source, made, target = (pixelda_rows if pixelda else fda_rows)(run_dir, size)
  middle = "PixelDA generator" if pixelda else f"FDA (beta={config['data']['fda_beta']})"
  rows = [(f"source\n{config['data']['source']}", source), (middle, made),
          (f"target\n{config['data']['target']}", target)]
  plt = pyplot()
  fig, axes = plt.subplots(len(rows), size, figsize=(1.1 * size + 1.6, 1.25 * len(rows)),
                           squeeze=False)
  for r, (label, images) in enumerate(rows):
    display = to_display(np.asarray(images), config["data"]["eval_transform"])
    for i, ax in enumerate(axes[r]):
      ax.imshow(display[i], interpolation="nearest")
      ax.set_xticks([])
      ax.set_yticks([])
    axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
  title = os.path.join(*os.path.normpath(run_dir).split(os.sep)[-3:])
  fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
