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


def mesh_for(data_config) -> Mesh:
  """The mesh over every device, once `data_config`'s batch sizes are known to divide over it."""
  mesh = make_mesh()
  check_batch_size(data_config.batch_size, mesh)
  check_batch_size(data_config.eval_batch_size, mesh, "eval batch size")
  return mesh


def global_batch(local_batch: Any, mesh: Mesh) -> Any:
  """Assembles each process's slice of a batch into global arrays sharded on axis 0."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
      local_batch)


def initialize_distributed(dist_config) -> None:
  """Joins this process to a multi-process JAX job, if the config asks for one.

  - `coordinator_address` set ("host:port"): explicit set-up with
    `num_processes` and `process_id` (both >= 0);
  - `auto`: `jax.distributed.initialize()` detects the cluster itself (TPU pod
    slices, SLURM, Open MPI);
  - neither: a single process, nothing to do.
  On CPU, cross-process collectives go through gloo.
  """
  if not dist_config.coordinator_address and not dist_config.auto:
    return
  # Only the CPU backend reads this; without it CPU devices of different
  # processes cannot run collectives.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if dist_config.coordinator_address:
    if dist_config.num_processes < 1 or not 0 <= dist_config.process_id < dist_config.num_processes:
      raise ValueError(
          "distributed.coordinator_address is set, so distributed.num_processes must be >= 1 "
          f"and 0 <= distributed.process_id < num_processes; got {dist_config.num_processes} "
          f"and {dist_config.process_id}.")
    jax.distributed.initialize(coordinator_address=dist_config.coordinator_address,
                               num_processes=dist_config.num_processes,
                               process_id=dist_config.process_id)
  else:
    jax.distributed.initialize()
