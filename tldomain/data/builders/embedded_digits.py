"""The embedded default task: UCI digits -> UCI digits blended over photographs.

Both domains are made offline from real data that ships inside PyPI wheels:
- source `uci_digits`: the 1797 UCI handwritten digits of scikit-learn
  (`sklearn.datasets.load_digits`, 8x8, 16 grey levels), upsampled to a 20x20
  digit centred on a 28x28 canvas, MNIST's framing;
- target `uci_digits_m`: the MNIST-M construction of Ganin et al. (2016) applied
  to the same digits: each one blended as |patch - digit| over a random 28x28
  patch of a colour photograph shipped in scikit-image's wheel.

Both use one fixed split of the 1797 digits: 1347 train and 450 test. The
target's train split is unlabelled (label -1); its test split is labelled and
made from the held-out digits only, so it shares no digit with target train.
"""

import os

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from tldomain.data.core import DatasetNotFoundError, Domain
from tldomain.data.domains import register_domain

IMAGE_SIZE = 28
DIGIT_SIZE = 20
NUM_TEST = 450
SPLIT_SEED = 0
# Colour photographs in scikit-image's wheel (skimage/data); no download needed.
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg",
          "hubble_deep_field.jpg", "ihc.png", "retina.jpg",
          "motorcycle_left.png", "motorcycle_right.png")
CITATION = """@article{ganin2016domain,
  title={Domain-adversarial training of neural networks},
  author={Ganin, Yaroslav and Ustinova, Evgeniya and Ajakan, Hana and others},
  journal={JMLR}, volume={17}, number={59}, pages={1--35}, year={2016}}"""


def uci_digits_canvas() -> tuple[np.ndarray, np.ndarray]:
  """All 1797 UCI digits as (N, 28, 28) uint8 white-on-black images, and labels."""
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
  digits = load_digits()
  pad = (IMAGE_SIZE - DIGIT_SIZE) // 2
  canvas = np.zeros((len(digits.images), IMAGE_SIZE, IMAGE_SIZE), np.uint8)
  for i, small in enumerate(digits.images):
    grey = Image.fromarray((small * (255.0 / 16.0)).astype(np.uint8))
    canvas[i, pad:pad + DIGIT_SIZE, pad:pad + DIGIT_SIZE] = np.asarray(
        grey.resize((DIGIT_SIZE, DIGIT_SIZE), Image.BILINEAR))
  return canvas, digits.target.astype(np.int64)


def split_indices() -> dict[str, np.ndarray]:
  order = np.random.RandomState(SPLIT_SEED).permutation(1797)
  return {"train": np.sort(order[NUM_TEST:]), "test": np.sort(order[:NUM_TEST])}


def load_photos() -> list[np.ndarray]:
  import skimage.data  # pylint: disable=g-import-not-at-top
  missing = [p for p in PHOTOS if not os.path.exists(os.path.join(skimage.data.data_dir, p))]
  if missing:
    raise DatasetNotFoundError(
        f"uci_digits_m is made from photographs shipped with scikit-image, but "
        f"{', '.join(missing)} are missing from {skimage.data.data_dir}. "
        "Reinstall it: pip install --force-reinstall scikit-image")
  return [np.asarray(Image.open(os.path.join(skimage.data.data_dir, p)).convert("RGB"))
          for p in PHOTOS]


def blend_over_photos(digits: np.ndarray, photos: list[np.ndarray],
                      rng: np.random.RandomState) -> np.ndarray:
  """MNIST-M: |patch - digit| per channel, a random patch of a random photo each."""
  out = np.empty(digits.shape + (3,), np.uint8)
  for i, digit in enumerate(digits):
    photo = photos[rng.randint(len(photos))]
    y = rng.randint(photo.shape[0] - IMAGE_SIZE + 1)
    x = rng.randint(photo.shape[1] - IMAGE_SIZE + 1)
    patch = photo[y:y + IMAGE_SIZE, x:x + IMAGE_SIZE].astype(np.int16)
    out[i] = np.abs(patch - digit[..., None].astype(np.int16)).astype(np.uint8)
  return out


def digits_info(builder, channels: int, citation: str) -> tfds.core.DatasetInfo:
  return tfds.core.DatasetInfo(
      builder=builder, description=__doc__,
      features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=(IMAGE_SIZE, IMAGE_SIZE, channels)),
          "label": tfds.features.ClassLabel(num_classes=10)}),
      supervised_keys=("image", "label"), citation=citation)


class UciDigits(tfds.core.GeneratorBasedBuilder):
  """UCI handwritten digits (scikit-learn), 28x28 grey, 10 classes."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self) -> tfds.core.DatasetInfo:
    return digits_info(self, channels=1, citation="Alpaydin & Kaynak (1998), UCI Optical "
                       "Recognition of Handwritten Digits.")

  def _split_generators(self, dl_manager):
    del dl_manager
    images, labels = uci_digits_canvas()
    return {split: self._generate_examples(images[idx], labels[idx], idx)
            for split, idx in split_indices().items()}

  def _generate_examples(self, images, labels, indices):
    for image, label, index in zip(images, labels, indices):
      yield int(index), {"image": image[..., None], "label": int(label)}


class UciDigitsM(tfds.core.GeneratorBasedBuilder):
  """UCI digits blended over photographs (MNIST-M construction), 28x28 RGB."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self) -> tfds.core.DatasetInfo:
    return digits_info(self, channels=3, citation=CITATION)  # labels -1 on train

  def _split_generators(self, dl_manager):
    del dl_manager
    images, labels = uci_digits_canvas()
    photos = load_photos()
    splits = {}
    for seed, (split, idx) in enumerate(sorted(split_indices().items())):
      blended = blend_over_photos(images[idx], photos, np.random.RandomState(1000 + seed))
      split_labels = labels[idx] if split == "test" else np.full(len(idx), -1)
      splits[split] = self._generate_examples(blended, split_labels, idx)
    return splits

  def _generate_examples(self, images, labels, indices):
    for image, label, index in zip(images, labels, indices):
      yield int(index), {"image": image, "label": int(label)}


register_domain(Domain("uci_digits", UciDigits,
                       description="UCI handwritten digits from scikit-learn (source)."))
register_domain(Domain("uci_digits_m", UciDigitsM,
                       description="UCI digits blended over photographs (target; "
                       "train split unlabelled)."))
