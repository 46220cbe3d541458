"""The digits CNN's convolutions on chunks of images: same values and gradients as on the whole batch."""

import jax
import jax.numpy as jnp
import numpy as np

from tldomain.models import digits


def test_chunked_convolutions_match_one_call(monkeypatch):
  x = jnp.asarray(np.random.RandomState(0).randn(2 * digits.CONV_CHUNK + 3, 28, 28, 3),
                  jnp.float32)  # a last chunk shorter than the others
  model = digits.DigitsCNN()
  variables = model.init(jax.random.PRNGKey(0), x[:2], train=False)

  def loss(params):
    out, _ = model.apply({**variables, "params": params}, x, train=True,
                         mutable=["batch_stats"])
    return jnp.sum(jnp.sin(out))

  run = lambda: (model.apply(variables, x, train=False), jax.grad(loss)(variables["params"]))
  chunked_out, chunked_grads = jax.jit(run)()
  monkeypatch.setattr(digits, "CONV_CHUNK", x.shape[0])  # one call for the whole batch
  whole_out, whole_grads = jax.jit(run)()
  np.testing.assert_allclose(chunked_out, whole_out, rtol=1e-5, atol=1e-5)
  for name in ("conv0", "conv1", "bn0", "bn1"):
    for leaf, (got, want) in enumerate(zip(jax.tree.leaves(chunked_grads[name]),
                                           jax.tree.leaves(whole_grads[name]))):
      # Before BatchNorm, the conv bias gradients are rounding noise around 0.
      np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{name} {leaf}")
