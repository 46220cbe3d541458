"""Test helpers: synthetic batches and parameter comparison."""

import jax
import numpy as np

from tldomain import sharding


def synthetic_batch(batch_size: int, image_size: int = 28, seed: int = 0) -> dict:
  rng = np.random.RandomState(seed)
  images = lambda: rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype(np.float32)
  return {"source": {"image": images(), "label": rng.randint(0, 10, batch_size).astype(np.int32)},
          "target": {"image": images()}}


def on_mesh(batch: dict, mesh) -> dict:
  return sharding.global_batch(batch, mesh)


def flat(tree) -> dict:
  """{"['module']['layer']['kernel']": leaf}, arrays fetched to numpy."""
  leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(tree))
  return {jax.tree_util.keystr(path): leaf if isinstance(leaf, str) else np.asarray(leaf)
          for path, leaf in leaves}
