"""Mixed precision (model.dtype = "bfloat16"): bf16 compute, float32 state and losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tldomain import compute, methods, trainers
from tldomain.steps import ModuleRunner, init_variables, method_loss

from helpers import restore_checkpoint, synthetic_batch


def float_dtypes(tree) -> set[str]:
  return {str(x.dtype) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)}


def test_bfloat16_run_trains_and_saves_float32_state(small_config, tmp_path):
  config = small_config("dann", steps=4)
  config.model.dtype = "bfloat16"
  config.train.eval_every = 4
  config.selection.num_examples = 64  # a small evaluation: this test is about dtypes
  results = trainers.run(config, str(tmp_path / "bf16"))
  assert 0.0 <= results["target_test_accuracy"] <= 1.0
  state = restore_checkpoint(str(tmp_path / "bf16"), 4)
  assert float_dtypes(state["params"]) == {"float32"}
  assert float_dtypes(state["batch_stats"]) == {"float32"}
  assert float_dtypes(state["opt_state"]) == {"float32"}
  assert set(state["params"]) == {"backbone", "bottleneck", "head", "discriminator"}


def forward(modules, method, hparams, batch, key):
  """Each module's own output dtype, and what the step's loss path sees, in one jit."""

  def run(params, stats):
    variables = lambda name: {"params": params[name], "batch_stats": stats[name]}
    features = modules["backbone"].apply(variables("backbone"), batch["source"]["image"],
                                         train=False)
    bottleneck = modules["bottleneck"].apply(variables("bottleneck"), features, train=False)
    logits = modules["head"].apply({"params": params["head"]}, bottleneck, train=False)
    domain = modules["discriminator"].apply(variables("discriminator"), bottleneck, train=False)
    runner = ModuleRunner(modules, params, stats, train=True)
    loss, metrics = method_loss(runner, batch, method, hparams, jnp.float32(0.5), key)
    return {"module_outputs": (features, bottleneck, logits, domain),
            "runner_output": runner("head", bottleneck), "loss": loss, "metrics": metrics,
            "updated_stats": runner.updated_stats}

  params, stats = jax.jit(lambda: init_variables(modules, method, hparams, batch, key))()
  return params, stats, jax.jit(run)(params, stats)


def test_bfloat16_modules_compute_in_bfloat16_and_hand_losses_float32(small_config):
  method = methods.get_method("dann")
  batch = synthetic_batch(4)
  key = jax.random.key(0)
  losses = {}
  for dtype in ("float32", "bfloat16"):
    config = small_config("dann")
    config.model.dtype = dtype
    modules = compute.build_modules(config.model, method, config.method, num_classes=10)
    params, stats, out = forward(modules, method, config.method, batch, key)
    assert float_dtypes((params, stats)) == {"float32"}
    # Each module's own output is in the compute dtype ...
    assert {x.dtype for x in out["module_outputs"]} == {jnp.dtype(dtype)}
    # ... while what the step hands a loss is float32, and so are the loss and new statistics.
    assert out["runner_output"].dtype == jnp.float32
    assert out["loss"].dtype == jnp.float32 and float_dtypes(out["metrics"]) == {"float32"}
    assert float_dtypes(out["updated_stats"]) == {"float32"}
    losses[dtype] = float(out["loss"])
  # Same parameters (initialisation does not depend on the compute dtype), so
  # the bf16 loss is the float32 one up to bf16 rounding.
  np.testing.assert_allclose(losses["bfloat16"], losses["float32"], rtol=0.05)


def test_unknown_dtype_lists_the_valid_ones(small_config):
  config = small_config("dann")
  config.model.dtype = "float16"
  with pytest.raises(KeyError, match=r"Unknown model.dtype 'float16'. Valid names: "
                                     r"bfloat16, float32."):
    compute.build_modules(config.model, methods.get_method("dann"), config.method,
                          num_classes=10)
