"""Device mesh and shardings: the global batch split on its batch axis, state replicated."""

from typing import Any, Sequence

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import numpy as np

DATA_AXIS = "data"


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh over `devices` (default: every device of every process)."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(global_batch: int, mesh: Mesh, what: str = "batch size") -> None:
  if global_batch % mesh.size:
    raise ValueError(f"The {what} ({global_batch}) must be divisible by the number "
                     f"of devices ({mesh.size}); change it or the device count.")


def global_batch(local_batch: Any, mesh: Mesh) -> Any:
  """Assembles each process's slice of a batch into global arrays sharded on axis 0."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
      local_batch)
