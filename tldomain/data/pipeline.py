"""tf.data input: endless shuffled training streams and exact evaluation passes.

A split is read once from its TFDS builder into memory, decoded when small. Example order is a pure function of (seed, position):
position i of the stream is example index_shuffle(i mod N, seed=(seed, epoch)),
so a run restored at step k rebuilds its stream from step k and replays exactly
what an uninterrupted run would have read. Each process reads only the slice of
each global batch that its devices hold.
"""

import dataclasses
from typing import Iterator

import jax
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tldomain.data.domains import prepared_builder
from tldomain.data.transforms import EncodedImage, decode, get_transform

# TensorFlow only feeds data here; keep it off any accelerator.
tf.config.set_visible_devices([], "GPU")


# Splits of fixed-size images up to this many decoded bytes are decoded once and
# kept in memory (digits: a few MB), which makes input nearly free; larger ones
# stay encoded and are decoded in the pipeline.
DECODED_CACHE_BYTES = 1 << 30


@dataclasses.dataclass(frozen=True)
class Split:
  """One split of one domain, held in memory: decoded (N, H, W, C) uint8 images,
  or an object array of encoded PNG/JPEG bytes when `encoded` is True."""
  domain: str
  split: str
  images: np.ndarray
  labels: np.ndarray  # int64; -1 where the split is unlabelled
  channels: int
  num_classes: int
  encoded: bool
  class_names: tuple[str, ...] = ()

  def __len__(self) -> int:
    return len(self.labels)


def load_split(domain: str, split: str, data_dir: str | None = None,
               manual_dir: str | None = None) -> Split:
  """Reads `split` of `domain`; TFDS slices work ("test[:8000]", "train[80%:]")."""
  builder = prepared_builder(domain, data_dir, manual_dir)
  try:
    num_examples = builder.info.splits[split].num_examples
  except (KeyError, ValueError) as e:
    raise ValueError(f"Dataset {domain!r} has no split {split!r}; it has "
                     f"{', '.join(sorted(builder.info.splits))}, and TFDS slices of "
                     f"them such as 'train[:80%]' ({e}).") from None
  features = builder.info.features
  shape = features["image"].shape
  decoded_bytes = num_examples * int(np.prod(shape)) \
      if None not in shape else None
  encoded = decoded_bytes is None or decoded_bytes > DECODED_CACHE_BYTES
  decoders = {"image": tfds.decode.SkipDecoding()} if encoded else None
  data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False,
                                          decoders=decoders))
  if len(data["label"]) == 0:
    raise ValueError(f"Split {split!r} of dataset {domain!r} is empty.")
  return Split(domain=domain, split=split, images=data["image"],
               labels=data["label"].astype(np.int64), channels=shape[-1],
               num_classes=features["label"].num_classes, encoded=encoded,
               class_names=tuple(features["label"].names))


def _process_slice(global_batch: int) -> tuple[int, int]:
  """(offset, size) of this process's part of each global batch."""
  count, index = jax.process_count(), jax.process_index()
  if global_batch % count:
    raise ValueError(f"Batch size {global_batch} must be divisible by the "
                     f"number of processes ({count}).")
  local = global_batch // count
  return index * local, local


def _decoder(split: Split, transform_name: str, image_size: int, seed: int):
  """`fetch(index, position) -> {image, label}`: one transformed example."""
  images = tf.constant(split.images, tf.string if split.encoded else tf.uint8)
  labels = tf.constant(split.labels, tf.int64)
  transform = get_transform(transform_name)

  def fetch(index, position):
    image = images[index]
    if split.encoded:
      # A transform that reads encoded images decodes only what it uses.
      image = EncodedImage(image, split.channels)
      if not getattr(transform, "reads_encoded", False):
        image = decode(image)
    example_seed = tf.stack([tf.constant(seed, tf.int64), position])
    return {"image": transform(image, example_seed, image_size),
            "label": tf.cast(labels[index], tf.int32)}

  return fetch


def train_stream(split: Split, global_batch: int, seed: int, start_step: int = 0,
                 transform: str = "digits", image_size: int = 28
                 ) -> Iterator[dict[str, np.ndarray]]:
  """Endless batches {image, label} of this process's share of each global batch.

  Batch k holds stream positions [k * global_batch, (k + 1) * global_batch).
  """
  offset, local = _process_slice(global_batch)
  n = len(split)
  fetch = _decoder(split, transform, image_size, seed)

  def positions(step):
    return step * global_batch + offset + tf.range(local, dtype=tf.int64)

  def example(position):
    epoch = position // n
    index = tf.random.experimental.index_shuffle(
        position % n, seed=tf.stack([tf.constant(seed, tf.int64), epoch]),
        max_index=n - 1)
    return fetch(index, position)

  ds = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max // global_batch)
  ds = ds.map(positions).unbatch()
  ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(local, drop_remainder=True).prefetch(2)
  return ds.as_numpy_iterator()


def eval_batches(split: Split, global_batch: int, transform: str = "digits",
                 image_size: int = 28) -> Iterator[dict[str, np.ndarray]]:
  """One exact pass in order: the last batch is padded, `mask` marks real examples."""
  offset, local = _process_slice(global_batch)
  n = len(split)
  num_batches = -(-n // global_batch)
  fetch = _decoder(split, transform, image_size, seed=0)

  def positions(step):
    return step * global_batch + offset + tf.range(local, dtype=tf.int64)

  def example(position):
    out = fetch(tf.minimum(position, n - 1), position)
    out["mask"] = position < n
    return out

  ds = tf.data.Dataset.range(num_batches).map(positions).unbatch()
  ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(local).prefetch(2)
  return ds.as_numpy_iterator()
