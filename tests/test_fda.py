"""FDA (Fourier domain adaptation): the amplitude swap against a NumPy
transcription of the authors' code, and the stream that applies it."""

import numpy as np
import pytest
import tensorflow as tf

from tldomain import data
from tldomain.data import transforms
from tldomain.methods.fda import charbonnier_entropy


def fda_numpy(source: np.ndarray, target: np.ndarray, beta: float) -> np.ndarray:
  """The authors' FDA_source_to_target_np on (H, W, C) images: fft2 per channel,
  fftshift the amplitudes, copy the target's centred square
  [c - b, c + b) (b = floor(min(H, W) beta), c = floor(size / 2)), ifftshift,
  recombine with the source phase, real part of ifft2; then clipped to [0, 255]."""
  src = np.fft.fft2(np.transpose(source.astype(np.float64), (2, 0, 1)))
  trg = np.fft.fft2(np.transpose(target.astype(np.float64), (2, 0, 1)))
  amp_src, pha_src = np.abs(src), np.angle(src)
  a_src = np.fft.fftshift(amp_src, axes=(-2, -1))
  a_trg = np.fft.fftshift(np.abs(trg), axes=(-2, -1))
  _, h, w = a_src.shape
  b = int(np.floor(min(h, w) * beta))
  c_h, c_w = h // 2, w // 2
  a_src[:, c_h - b:c_h + b, c_w - b:c_w + b] = a_trg[:, c_h - b:c_h + b, c_w - b:c_w + b]
  amp = np.fft.ifftshift(a_src, axes=(-2, -1))
  out = np.real(np.fft.ifft2(amp * np.exp(1j * pha_src)))
  return np.clip(np.transpose(out, (1, 2, 0)), 0, 255)


def images(shape, seed, low=0, high=256):
  return np.random.default_rng(seed).integers(low, high, shape).astype(np.uint8)


@pytest.mark.parametrize("shape,beta", [((28, 28, 3), 0.1), ((15, 20, 3), 0.2),
                                        ((16, 16, 1), 0.5)])
def test_fda_matches_numpy_transcription(shape, beta):
  source, target = images(shape, 0), images(shape, 1)
  np.testing.assert_allclose(transforms.fda(source, target, beta).numpy(),
                             fda_numpy(source, target, beta), atol=0.02)


def test_beta_zero_leaves_the_image_unchanged():
  source = images((28, 28, 3), 0)
  np.testing.assert_allclose(transforms.fda(source, images((28, 28, 3), 1), 0.0).numpy(),
                             source, atol=1e-3)


def test_phase_is_kept_and_low_amplitudes_are_the_targets():
  # Low-contrast images: nothing is clipped, so the spectrum is exactly the swap's.
  source, target = images((24, 24, 3), 0, 100, 140), images((24, 24, 3), 1, 90, 150)
  out = transforms.fda(source, target, 0.125).numpy()
  assert 0 < out.min() and out.max() < 255
  f_out, f_src, f_trg = (np.fft.fft2(np.transpose(x.astype(np.float64), (2, 0, 1)))
                         for x in (out, source, target))
  mask = transforms.fda_mask(24, 24, 0.125).numpy()
  assert mask.sum() == 36  # b = 3: a 6x6 square around the zero frequency
  assert mask[0, 0] and mask[-3, -3] and not mask[3, 3]
  # Equal phases (compared on the unit circle, where -pi and pi meet).
  np.testing.assert_allclose(np.abs(np.exp(1j * (np.angle(f_out) - np.angle(f_src))) - 1), 0,
                             atol=1e-3)
  # The square is one frequency wider on the negative side (the authors' window);
  # the real part of the inverse keeps the Hermitian part of the spectrum, so
  # where a frequency's mirror -k is in the square too the amplitude is the
  # target's, where neither is it is the source's.
  mirror = np.roll(mask[::-1, ::-1], 1, axis=(0, 1))
  both, neither = mask & mirror, ~mask & ~mirror
  assert both.sum() == 25
  np.testing.assert_allclose(np.abs(f_out)[:, both], np.abs(f_trg)[:, both], rtol=1e-4)
  np.testing.assert_allclose(np.abs(f_out)[:, neither], np.abs(f_src)[:, neither], rtol=1e-3,
                             atol=0.05)


def test_target_of_another_size_and_channel_count_is_resized():
  source, target = images((16, 16, 1), 0), images((28, 28, 3), 1)
  resized = tf.image.resize(tf.cast(target, tf.float32), (16, 16), antialias=True).numpy()
  out = transforms.fda(source, target, 0.25).numpy()
  assert out.shape == (16, 16, 3)
  np.testing.assert_allclose(out, fda_numpy(np.repeat(source, 3, -1), resized, 0.25), atol=0.02)


@pytest.mark.parametrize("beta", [-0.01, 0.51, 1.0])
def test_beta_outside_range_is_an_error(beta):
  with pytest.raises(ValueError, match=r"fda_beta=.* outside \[0, 0.5\]"):
    transforms.check_fda_beta(beta)


def split(images_array: np.ndarray, labels) -> data.Split:
  return data.Split(domain="d", split="train", images=images_array,
                    labels=np.asarray(labels, np.int64), channels=images_array.shape[-1],
                    num_classes=10, encoded=False)


def test_fda_stream_is_a_function_of_seed_and_position():
  source = split(images((20, 12, 12, 1), 0), np.arange(20) % 10)
  target = split(images((7, 16, 16, 3), 1), -np.ones(7)).hide_labels()
  stream = lambda start, beta=0.25: data.train_stream(
      source, 4, seed=3, start_step=start, image_size=12, style=data.FdaStyle(target, beta, 5))
  whole = stream(0)
  batches = [next(whole) for _ in range(4)]
  resumed = next(stream(3))
  np.testing.assert_array_equal(resumed["image"], batches[3]["image"])
  np.testing.assert_array_equal(resumed["label"], batches[3]["label"])
  # FDA changed the images (beta = 0 leaving them as they are is tested above).
  plain = next(data.train_stream(source, 4, seed=3, image_size=12))
  np.testing.assert_array_equal(plain["label"], batches[0]["label"])
  assert np.abs(batches[0]["image"] - plain["image"]).max() > 0.1
  with pytest.raises(ValueError, match="fda_beta"):
    data.FdaStyle(target, 0.7, 5)


def test_fda_entropy_penalty_matches_numpy():
  logits = np.random.default_rng(0).normal(size=(5, 10)).astype(np.float32)
  p = np.exp(logits - logits.max(1, keepdims=True))
  p /= p.sum(1, keepdims=True)
  h = -(p * np.log(p)).sum(1) / np.log(10)
  np.testing.assert_allclose(charbonnier_entropy(logits, 2.0), np.mean((h ** 2 + 1e-8) ** 2),
                             rtol=1e-5)
