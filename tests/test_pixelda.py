"""PixelDA: GAN losses against NumPy, the gradient each module gets, the
generator's output, and a run (on FDA images) resumed to the same end."""

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from tldomain import defaults, trainers
from tldomain.methods import get_method
from tldomain.methods import pixelda
from tldomain.methods.losses import cross_entropy
from tldomain.steps import ModuleRunner, init_variables, method_loss

from helpers import flat, restore_checkpoint


def bce_numpy(logits, target):
  p = 1 / (1 + np.exp(-logits.astype(np.float64)))
  return -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))


def test_gan_losses_match_numpy():
  rng = np.random.default_rng(0)
  fake, real = rng.normal(size=6).astype(np.float32), rng.normal(size=5).astype(np.float32)
  d_loss, g_loss, g_term = pixelda.gan_losses(jnp.asarray(fake), jnp.asarray(real),
                                              jnp.asarray(fake))
  np.testing.assert_allclose(d_loss, 0.5 * (bce_numpy(real, 1) + bce_numpy(fake, 0)), rtol=1e-5)
  np.testing.assert_allclose(g_loss, bce_numpy(fake, 1), rtol=1e-5)  # non-saturating
  assert float(g_term) == 0.0


def test_generator_output_range_and_shape():
  generator = pixelda.Generator(width=4, blocks=1)
  images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (3, 10, 12, 1)), jnp.float32)
  noise = jnp.ones((3, 10))
  variables = generator.init(jax.random.key(0), images, noise, train=False)
  out, _ = generator.apply(variables, 50 * images, noise, train=True, mutable=["batch_stats"])
  assert out.shape == (3, 10, 12, 3)
  assert float(jnp.abs(out).max()) <= 1.0
  # The noise changes the image.
  other, _ = generator.apply(variables, 50 * images, -noise, train=True, mutable=["batch_stats"])
  assert float(jnp.abs(out - other).max()) > 0


class Flatten(nn.Module):
  @nn.compact
  def __call__(self, x, train):
    return x.reshape(x.shape[0], -1)


class Dense(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x, train):
    return nn.Dense(self.features)(x)


def test_each_module_gets_the_gradient_of_its_own_loss():
  method = get_method("pixelda")
  hp = ml_collections.ConfigDict({**method.defaults, "discriminator_noise": 0.0,
                                  "gan_weight": 0.7, "source_weight": 0.5})
  modules = {"backbone": Flatten(), "bottleneck": Dense(8), "head": Dense(10),
             "generator": pixelda.Generator(4, 1),
             "discriminator": pixelda.ImageDiscriminator((4, 8))}
  rng = np.random.default_rng(0)
  batch = {"source": {"image": jnp.asarray(rng.uniform(-1, 1, (4, 8, 8, 3)), jnp.float32),
                      "label": jnp.asarray([1, 2, 3, 4])},
           "target": {"image": jnp.asarray(rng.uniform(-1, 1, (4, 8, 8, 3)), jnp.float32)}}
  key, progress = jax.random.key(1), jnp.zeros(())
  params, stats = init_variables(modules, method, hp, batch, jax.random.key(0))

  def total(p):
    return method_loss(ModuleRunner(modules, p, stats, train=True), batch, method, hp,
                       progress, key)[0]

  grads = jax.jit(jax.grad(total))(params)

  def generated(p):  # G(x) with the loss's noise, BatchNorm on batch statistics
    gen_key, _ = jax.random.split(key)
    return pixelda.generate(ModuleRunner(modules, p, stats, train=True),
                            batch["source"]["image"], gen_key, hp.noise_dim)

  def discriminate(p, images):
    return ModuleRunner(modules, p, stats, train=True)("discriminator", images)

  fake = jax.lax.stop_gradient(generated(params))

  def d_objective(d_params):  # D's own loss; G held fixed
    p = {**params, "discriminator": d_params}
    real = discriminate(p, batch["target"]["image"])
    return hp.gan_weight * pixelda.gan_losses(discriminate(p, fake), real, real)[0]

  def g_objective(g_params):  # G's own loss: non-saturating GAN + task on G(x); D, T fixed
    p = {**params, "generator": g_params}
    images = generated(p)
    run = ModuleRunner(modules, p, stats, train=True)
    logits = run("head", run("bottleneck", run("backbone", images)))
    g_loss = pixelda.gan_losses(discriminate(p, images), jnp.zeros(1), discriminate(p, images))[1]
    return hp.gan_weight * g_loss + cross_entropy(logits, batch["source"]["label"])

  for name, objective in (("discriminator", d_objective), ("generator", g_objective)):
    expected = flat(jax.jit(jax.grad(objective))(params[name]))
    got = flat(grads[name])
    for k in expected:
      np.testing.assert_allclose(got[k], expected[k], rtol=1e-4, atol=1e-6, err_msg=name + k)
    assert max(float(np.abs(v).max()) for v in expected.values()) > 0


def test_pixelda_on_fda_images_resumes_to_the_same_end(small_config, tmp_path):
  def config():
    c = defaults.set_method(small_config("source_only", steps=6), "pixelda")
    c.method.update(generator_width=4, generator_blocks=1, discriminator_widths=(4, 8))
    c.model.bottleneck_dim = 8
    c.data.fda_beta = 0.1
    c.train.eval_every = 6
    c.selection.num_examples = 16
    return c

  whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
  results = trainers.run(config(), whole)
  assert {"generator", "discriminator"} <= set(restore_checkpoint(whole, 6)["params"])
  stopped = config()
  stopped.train.stop_at_step = 3
  assert trainers.run(stopped, parts) is None
  resumed = trainers.run(config(), parts)
  assert resumed["resumed_from_step"] == 3
  a, b = flat(restore_checkpoint(whole, 6)), flat(restore_checkpoint(parts, 6))
  assert sorted(a) == sorted(b)
  for key in a:
    np.testing.assert_array_equal(a[key], b[key], err_msg=key)
  assert resumed["target_test_accuracy"] == results["target_test_accuracy"]
  assert os.path.exists(os.path.join(whole, "results.json"))
