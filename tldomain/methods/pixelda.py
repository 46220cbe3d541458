"""PixelDA: pixel-level domain adaptation with a GAN (Bousmalis et al., CVPR 2017).

A generator G turns a source image and a noise vector into a target-like
image; a discriminator D tells generated images from real target images; the
task classifier T (the run's backbone, bottleneck and head, so evaluation and
selection are unchanged) learns on the generated images with the source
labels and, with `source_weight` > 0, on the source images too (the paper's
second task-loss term). The paper's objective is
    min_{G,T} max_D  alpha L_d(D, G) + beta L_t(G, T).

One loss, one gradient, one optimizer step for all three (simultaneous
updates, each module in its own parameter group: optim.groups.generator and
optim.groups.discriminator). The loss is built so that every module's gradient
is the gradient of its own objective:
  - D: d_loss = BCE(D(real target), 1) + BCE(D(stop_gradient(G(x))), 0), halves
    weighted equally; G gets nothing from it (stop_gradient).
  - G: the non-saturating generator loss BCE(D(G(x)), 1) (Goodfellow et al.
    2014), as the term BCE(D(G(x)), 1) - BCE(D(stop_gradient(G(x))), 1): both
    are the same number, so the term is 0 and D's gradients from its two
    halves cancel, while G gets gradient only from the first.
  - G and T: the task loss on G(x); T also on source images.
D has no BatchNorm, so the three halves of its one batch do not interact.

Sizes are scaled down from the paper's (64 filters, 6 residual blocks, a
512-wide discriminator for 32x32 images) for small images on small machines:
`generator_width`, `generator_blocks` and `discriminator_widths` set them. The
generator outputs tanh in [-1, 1]: the range of the `digits` transform's images,
which the generated images stand in for.
"""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from tldomain.methods.base import LossInputs, Method, Outputs
from tldomain.methods.losses import accuracy, binary_cross_entropy, cross_entropy
from tldomain.methods.registry import register
from tldomain.models.heads import batch_norm


class ResidualBlock(nn.Module):
  """conv3x3-BN-ReLU-conv3x3-BN plus the input (the paper's generator block)."""
  width: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, train: bool):
    y = nn.Conv(self.width, (3, 3), dtype=self.dtype, name="conv0")(x)
    y = nn.relu(batch_norm(train, name="bn0", dtype=self.dtype)(y))
    y = nn.Conv(self.width, (3, 3), dtype=self.dtype, name="conv1")(y)
    return x + batch_norm(train, name="bn1", dtype=self.dtype)(y)


class Generator(nn.Module):
  """(source image, noise) -> target-like image of the same size, in [-1, 1].

  The noise vector goes through a dense layer to one image-sized channel,
  concatenated to the image (as in the paper); then conv3x3-ReLU, residual
  blocks, and a conv3x3 to the output channels with tanh.
  """
  width: int = 16
  blocks: int = 3
  channels: int = 3
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, images, noise, train: bool):
    n, h, w, _ = images.shape
    z = nn.Dense(h * w, dtype=self.dtype, name="noise")(noise).reshape(n, h, w, 1)
    x = jnp.concatenate([images.astype(self.dtype), z], axis=-1)
    x = nn.relu(nn.Conv(self.width, (3, 3), dtype=self.dtype, name="conv_in")(x))
    for i in range(self.blocks):
      x = ResidualBlock(self.width, self.dtype, name=f"block{i}")(x, train)
    return jnp.tanh(nn.Conv(self.channels, (3, 3), dtype=self.dtype, name="conv_out")(x))


class ImageDiscriminator(nn.Module):
  """Image -> one logit (real target vs generated): strided conv3x3 + leaky ReLU
  layers, no BatchNorm (see the module docstring), then a dense layer."""
  widths: Sequence[int] = (16, 32, 64)
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, images, train: bool):
    del train  # no BatchNorm, no dropout
    x = images.astype(self.dtype)
    for i, width in enumerate(self.widths):
      x = nn.Conv(width, (3, 3), strides=(1, 1) if i == 0 else (2, 2), dtype=self.dtype,
                  name=f"conv{i}")(x)
      x = nn.leaky_relu(x, 0.2)
    return nn.Dense(1, dtype=self.dtype, name="logit")(x.reshape(x.shape[0], -1))[:, 0]


def generate(apply, images: jax.Array, rng: jax.Array, noise_dim: int) -> jax.Array:
  """G(images, z) with z ~ U(-1, 1)^noise_dim per image."""
  noise = jax.random.uniform(rng, (images.shape[0], noise_dim), minval=-1.0, maxval=1.0)
  return apply("generator", images, noise)


def gan_losses(fake_logits_stopped: jax.Array, real_logits: jax.Array,
               fake_logits: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(d_loss, g_loss, g_term) from D's logits on stop_gradient(G(x)), on real
  target images and on G(x) (the same values as the first, with G's gradient).

  d_loss: D's loss, 0.5 (BCE(real, 1) + BCE(fake, 0)). g_loss: the
  non-saturating generator loss BCE(fake, 1). g_term: the value 0 whose
  gradient is g_loss's with respect to G(x) and 0 with respect to D.
  """
  d_loss = 0.5 * (binary_cross_entropy(real_logits, jnp.ones_like(real_logits)) +
                  binary_cross_entropy(fake_logits_stopped, jnp.zeros_like(fake_logits_stopped)))
  ones = jnp.ones_like(fake_logits)
  g_loss = binary_cross_entropy(fake_logits, ones)
  g_term = g_loss - binary_cross_entropy(fake_logits_stopped, ones)
  return d_loss, g_loss, g_term


def classify(apply, images: jax.Array) -> Outputs:
  features = apply("bottleneck", apply("backbone", images))
  return Outputs(features=features, logits=apply("head", features))


def pixelda_loss(inputs: LossInputs, hparams):
  source_images, target_images = inputs.source_images, inputs.target_images
  if source_images.shape[1:] != target_images.shape[1:]:
    raise ValueError(f"PixelDA: source images {source_images.shape[1:]} and target images "
                     f"{target_images.shape[1:]} differ; set data.image_size so both are "
                     "resized to one size.")
  gen_key, noise_key = jax.random.split(inputs.rng)
  fake = generate(inputs.apply, source_images, gen_key, hparams.noise_dim)
  # D sees stop_gradient(G(x)), real target images and G(x) in one batch.
  images = jnp.concatenate([jax.lax.stop_gradient(fake), target_images, fake])
  if hparams.discriminator_noise > 0:  # the paper's Gaussian noise on D's input
    images = images + hparams.discriminator_noise * jax.random.normal(noise_key, images.shape)
  logits = inputs.apply("discriminator", images)
  n, m = fake.shape[0], target_images.shape[0]
  d_loss, g_loss, g_term = gan_losses(logits[:n], logits[n:n + m], logits[n + m:])
  generated = classify(inputs.apply, fake)
  task_generated = cross_entropy(generated.logits, inputs.labels)
  task_source = cross_entropy(inputs.source.logits, inputs.labels)
  total = (hparams.task_weight * (task_generated + hparams.source_weight * task_source) +
           hparams.gan_weight * (d_loss + g_term))
  real_logits, fake_logits = logits[n:n + m], logits[:n]
  return total, {
      "task_generated_ce": task_generated, "source_ce": task_source,
      "generated_accuracy": accuracy(generated.logits, inputs.labels),
      "source_accuracy": accuracy(inputs.source.logits, inputs.labels),
      "d_loss": d_loss, "g_loss": g_loss,
      "d_accuracy": 0.5 * ((real_logits > 0).mean() + (fake_logits <= 0).mean())}


register(Method(
    name="pixelda",
    loss=pixelda_loss,
    # gan_weight / task_weight: the paper's alpha / beta; equal weights are our choice.
    defaults={"task_weight": 1.0, "gan_weight": 1.0, "source_weight": 1.0, "noise_dim": 10,
              "discriminator_noise": 0.2, "generator_width": 16, "generator_blocks": 3,
              "discriminator_widths": (16, 32, 64)},
    modules=lambda hp: {
        "generator": Generator(hp.generator_width, hp.generator_blocks),
        "discriminator": ImageDiscriminator(tuple(hp.discriminator_widths))},
))
