"""Test helpers: synthetic batches and parameter comparison."""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp

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


def restore_checkpoint(workdir: str, step: int) -> dict:
  """A saved train state as a pytree of arrays on this process's first device.

  The target shardings make restoring work whatever devices saved it.
  """
  path = os.path.join(workdir, "checkpoints", str(step), "default")
  checkpointer = ocp.StandardCheckpointer()
  metadata = checkpointer.metadata(path).item_metadata
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device),
                        metadata)
  return checkpointer.restore(path, target)


def assert_accuracy_is_the_predictions(workdir: str, results: dict, test_size: int) -> None:
  """results.json's target accuracy is that of the final model's predictions on
  the whole target test split, restored from the run's checkpoint."""
  from tldomain.inference import RestoredRun  # pylint: disable=g-import-not-at-top
  run = RestoredRun(workdir)
  assert run.step == results["steps"]
  outputs = run.outputs("target_test", test_size + 1)  # more than there are: all of them
  assert len(outputs["label"]) == test_size
  accuracy = float(np.mean(np.argmax(outputs["logits"], axis=-1) == outputs["label"]))
  assert results["target_test_accuracy"] == accuracy, (results["target_test_accuracy"], accuracy)


# A config file for suite tests: the embedded task, tiny batches and heads, 4 steps.
TINY_SUITE_CONFIG = '''
from tldomain import defaults

def get_config(arg):
  method, source, target = arg.split(",")
  c = defaults.set_method(defaults.base_config(), method)
  c.data.source, c.data.target = source, target
  c.data.batch_size = 8
  c.data.eval_batch_size = 128
  c.model.bottleneck_dim = 32
  if "discriminator_hidden" in c.method:
    c.method.discriminator_hidden = (32, 32)
  c.train.steps = 4
  c.train.log_every = 2
  c.train.eval_every = 2
  c.selection.num_examples = 100
  return c
'''
