"""Compute precision: `config.model.dtype` names the dtype modules compute in.

Under "bfloat16" every module computes (convolutions, matrix products,
activations) in bfloat16 while its parameters stay float32 (Flax's `dtype` vs
`param_dtype`): the optimizer updates float32 parameters and keeps float32
state, BatchNorm keeps float32 statistics, and the trainer casts every module's
output to float32 before a loss sees it (tldomain/steps.py).
"""

import dataclasses
from typing import Mapping

from absl import logging
import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from tldomain.registry import Registry

DTYPES: Registry[jnp.dtype] = Registry("model.dtype")
DTYPES.register("float32", jnp.dtype(jnp.float32))
DTYPES.register("bfloat16", jnp.dtype(jnp.bfloat16))


def compute_dtype(model_config: ml_collections.ConfigDict) -> jnp.dtype:
  """The dtype `model_config.dtype` names (float32 when unset); unknown names list the valid."""
  return DTYPES.get(model_config.get("dtype", "float32"))


def with_dtype(modules: Mapping[str, nn.Module], dtype: jnp.dtype) -> dict[str, nn.Module]:
  """`modules` with their `dtype` field set to `dtype`.

  This is how a method's own modules (a discriminator, an adversarial head)
  follow `model.dtype` without the method's factory knowing about it: a module
  that declares a `dtype` field gets a copy with it set. One without such a
  field is left as it is (it computes in its inputs' and parameters' dtype,
  float32) and a warning names it.
  """
  out = {}
  for name, module in modules.items():
    if any(f.name == "dtype" for f in dataclasses.fields(module)):
      out[name] = module.clone(dtype=dtype)
    else:
      if dtype != jnp.float32:
        logging.warning("Module %r (%s) has no `dtype` field, so it computes in float32 "
                        "although model.dtype is %s.", name, type(module).__name__, dtype)
      out[name] = module
  return out
