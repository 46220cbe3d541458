"""tf.data input: endless shuffled training streams and exact evaluation passes.

A split is read once from its TFDS builder into memory, decoded when small,
kept encoded when larger; a split whose files exceed `IN_MEMORY_BYTES` is not
loaded but streamed: an index of where each example's record lies in the
split's TFRecord files is built at load time, and each example is read from
disk when the stream reaches it (`Records`). Example order is a pure function
of (seed, position), whichever way the split is held: position i of the stream is example index_shuffle(i mod N, seed=(seed, epoch)),
so a run restored at step k rebuilds its stream from step k and replays exactly
what an uninterrupted run would have read. Each process reads only the slice of
each global batch that its devices hold.
"""

import dataclasses
import os
import struct
import threading
from typing import Iterator, Sequence

import jax
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tldomain.data.domains import prepared_builder
from tldomain.data.transforms import EncodedImage, check_fda_beta, decode, fda, get_transform

# TensorFlow only feeds data here; keep it off any accelerator.
tf.config.set_visible_devices([], "GPU")


# Splits of fixed-size images up to this many decoded bytes are decoded once and
# kept in memory (digits: a few MB), which makes input nearly free; larger ones
# stay encoded and are decoded in the pipeline.
DECODED_CACHE_BYTES = 1 << 30
# Encoded splits up to this many bytes of TFRecords are read into memory
# (Office-31, Office-Home); larger ones (VisDA-2017, DomainNet) are streamed
# from their files, one example read at a time.
IN_MEMORY_BYTES = 1 << 30


class Records:
  """Random access to the serialized examples of a split's TFRecord files.

  A TFRecord file is a sequence of records, each a little-endian uint64 length,
  a 4-byte CRC of it, the data and a 4-byte CRC of the data. The index holds
  each example's file, data offset and length, found by reading only the
  headers; `read` fetches one example's bytes (positioned reads, safe from
  many threads). The CRCs are not checked here: TFDS checked them when the
  files were read to build the dataset's statistics, and a corrupt record
  fails to parse.
  """

  def __init__(self, paths: Sequence[str], file: np.ndarray, offset: np.ndarray,
               length: np.ndarray):
    self.paths = tuple(paths)
    self.file, self.offset, self.length = file, offset, length
    self._files: dict[int, object] = {}
    self._lock = threading.Lock()

  @classmethod
  def index(cls, file_instructions) -> "Records":
    """The records that TFDS `file_instructions` select, in the order TFDS reads them."""
    paths, file, offset, length = [], [], [], []
    for instruction in file_instructions:
      path = os.fspath(instruction.filename)
      skip = instruction.skip
      take = instruction.take if instruction.take >= 0 else \
          instruction.examples_in_shard - skip
      starts, sizes = [], []
      with tf.io.gfile.GFile(path, "rb") as f:
        position = 0
        while len(sizes) < skip + take:
          f.seek(position)
          header = f.read(12)
          if len(header) < 12:
            raise ValueError(f"{path} holds {len(sizes)} records; TFDS expects "
                             f"{skip + take}. Delete the prepared dataset and rebuild it.")
          (size,) = struct.unpack("<Q", header[:8])
          starts.append(position + 12)
          sizes.append(size)
          position += 12 + size + 4
      paths.append(path)
      file.append(np.full(take, len(paths) - 1, np.int32))
      offset.append(np.asarray(starts[skip:], np.int64))
      length.append(np.asarray(sizes[skip:], np.int64))
    return cls(paths, np.concatenate(file), np.concatenate(offset), np.concatenate(length))

  def __len__(self) -> int:
    return len(self.offset)

  def take(self, index: np.ndarray) -> "Records":
    return Records(self.paths, self.file[index], self.offset[index], self.length[index])

  def read(self, index: int) -> bytes:
    path_id = int(self.file[index])
    offset, length = int(self.offset[index]), int(self.length[index])
    handle = self._files.get(path_id)
    if handle is None:
      with self._lock:
        if path_id not in self._files:
          path = self.paths[path_id]
          self._files[path_id] = (os.open(path, os.O_RDONLY) if "://" not in path
                                  else (tf.io.gfile.GFile(path, "rb"), threading.Lock()))
        handle = self._files[path_id]
    if isinstance(handle, int):  # a local file: pread needs no shared position
      return os.pread(handle, length, offset)
    f, lock = handle
    with lock:
      f.seek(offset)
      return f.read(length)

  def __del__(self):
    for handle in self._files.values():
      if isinstance(handle, int):
        os.close(handle)


@dataclasses.dataclass(frozen=True)
class Split:
  """One split of one domain: in memory, decoded (N, H, W, C) uint8 images or an
  object array of encoded PNG/JPEG bytes when `encoded` is True; or, when
  `records` is set, streamed from its files (`images` is None, and `labels` is
  None unless set by `hide_labels`: each example's label is read with it)."""
  domain: str
  split: str
  images: np.ndarray | None
  labels: np.ndarray | None  # int64; -1 where the split is unlabelled
  channels: int
  num_classes: int
  encoded: bool
  class_names: tuple[str, ...] = ()
  records: Records | None = None

  def __len__(self) -> int:
    return len(self.records) if self.records is not None else len(self.labels)

  @property
  def streamed(self) -> bool:
    return self.records is not None

  def take(self, index: np.ndarray) -> "Split":
    """The examples at `index`, in that order."""
    return dataclasses.replace(
        self, images=None if self.images is None else self.images[index],
        labels=None if self.labels is None else self.labels[index],
        records=None if self.records is None else self.records.take(index))

  def hide_labels(self) -> "Split":
    """The same images, every label -1."""
    return dataclasses.replace(self, labels=np.full(len(self), -1, np.int64))


def load_split(domain: str, split: str, data_dir: str | None = None,
               manual_dir: str | None = None) -> Split:
  """Reads `split` of `domain`; TFDS slices work ("test[:8000]", "train[80%:]")."""
  builder = prepared_builder(domain, data_dir, manual_dir)
  try:
    info = builder.info.splits[split]
    num_examples = info.num_examples
  except (KeyError, ValueError) as e:
    raise ValueError(f"Dataset {domain!r} has no split {split!r}; it has "
                     f"{', '.join(sorted(builder.info.splits))}, and TFDS slices of "
                     f"them such as 'train[:80%]' ({e}).") from None
  features = builder.info.features
  shape = features["image"].shape
  decoded_bytes = num_examples * int(np.prod(shape)) \
      if None not in shape else None
  encoded = decoded_bytes is None or decoded_bytes > DECODED_CACHE_BYTES
  common = dict(domain=domain, split=split, channels=shape[-1],
                num_classes=features["label"].num_classes,
                class_names=tuple(features["label"].names))
  if num_examples == 0:
    raise ValueError(f"Split {split!r} of dataset {domain!r} is empty.")
  if encoded and _split_bytes(builder, split, num_examples) > IN_MEMORY_BYTES:
    if builder.info.file_format != tfds.core.FileFormat.TFRECORD:
      raise ValueError(f"Dataset {domain!r} at {builder.data_dir} is stored as "
                       f"{builder.info.file_format.value}; streaming a split this large "
                       "reads TFRecord files. Delete that folder to rebuild it.")
    return Split(images=None, labels=None, encoded=True,
                 records=Records.index(info.file_instructions), **common)
  decoders = {"image": tfds.decode.SkipDecoding()} if encoded else None
  data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, shuffle_files=False,
                                          decoders=decoders))
  return Split(images=data["image"], labels=data["label"].astype(np.int64), encoded=encoded,
               **common)


def _split_bytes(builder, split: str, num_examples: int) -> float:
  """Bytes of TFRecords `split` reads; a slice's share of its whole split's."""
  whole = builder.info.splits[split.split("[")[0]]
  return whole.num_bytes * num_examples / max(whole.num_examples, 1)


def _process_slice(global_batch: int) -> tuple[int, int]:
  """(offset, size) of this process's part of each global batch."""
  count, index = jax.process_count(), jax.process_index()
  if global_batch % count:
    raise ValueError(f"Batch size {global_batch} must be divisible by the "
                     f"number of processes ({count}).")
  local = global_batch // count
  return index * local, local


def _reader(split: Split):
  """`read(indices) -> {image, label}` of a vector of examples: gathered from
  memory, or read from the split's files (one Python call a batch) and parsed."""
  labels = None if split.labels is None else tf.constant(split.labels, tf.int64)
  if not split.streamed:
    images = tf.constant(split.images, tf.string if split.encoded else tf.uint8)
    return lambda indices: {"image": tf.gather(images, indices),
                            "label": tf.gather(labels, indices)}
  records = split.records
  spec = {"image": tf.io.FixedLenFeature([], tf.string),
          "label": tf.io.FixedLenFeature([], tf.int64)}

  def read_records(indices: np.ndarray) -> np.ndarray:
    return np.array([records.read(i) for i in indices.tolist()], dtype=object)

  def read(indices):
    serialized = tf.numpy_function(read_records, [indices], tf.string, stateful=False)
    serialized.set_shape([None])
    example = tf.io.parse_example(serialized, spec)
    if labels is not None:  # hidden labels
      example["label"] = tf.gather(labels, indices)
    return example

  return read


@dataclasses.dataclass(frozen=True)
class FdaStyle:
  """FDA on a training stream: each example's low-frequency amplitude is taken
  from an image of `split` (the unlabelled target train split); the image for
  stream position p is index_shuffle(p mod N, seed=(seed, p // N)), a pure
  function of (seed, position) like the stream's own order."""
  split: Split
  beta: float
  seed: int

  def __post_init__(self):
    check_fda_beta(self.beta)

  def index(self, position: tf.Tensor) -> tf.Tensor:
    n = len(self.split)
    return tf.random.experimental.index_shuffle(
        position % n, seed=tf.stack([tf.constant(self.seed, tf.int64), position // n]),
        max_index=n - 1)


def _examples(split: Split, ds: tf.data.Dataset, local: int, transform_name: str,
              image_size: int, seed: int, style: FdaStyle | None = None) -> tf.data.Dataset:
  """(position, index) elements -> batches of `local` (positions, {image, label}).

  Examples are read `local` at a time, then transformed one by one in parallel
  with the stateless seed (seed, position). With `style`, FDA replaces each
  image's low frequencies by those of a style image before the transform."""
  transform = get_transform(transform_name)
  read = _reader(split)
  read_style = _reader(style.split) if style is not None else None

  def as_pixels(image, source: Split):
    return decode(EncodedImage(image, source.channels)) if source.encoded else image

  def apply(position, example):
    image = example["image"]
    if style is not None:  # FDA needs both images' pixels
      image = fda(as_pixels(image, split), as_pixels(example["style"], style.split),
                  style.beta)
    elif split.encoded:
      # A transform that reads encoded images decodes only what it uses.
      image = EncodedImage(image, split.channels)
      if not getattr(transform, "reads_encoded", False):
        image = decode(image)
    example_seed = tf.stack([tf.constant(seed, tf.int64), position])
    return position, {"image": transform(image, example_seed, image_size),
                      "label": tf.cast(example["label"], tf.int32)}

  def read_batch(positions, indices):
    if style is None:
      return positions, read(indices)
    indices, style_indices = indices
    return positions, {**read(indices), "style": read_style(style_indices)["image"]}

  if style is not None:
    ds = ds.map(lambda position, index: (position, (index, style.index(position))))
  ds = ds.batch(local).map(read_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.unbatch().map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(local)


def train_stream(split: Split, global_batch: int, seed: int, start_step: int = 0,
                 transform: str = "digits", image_size: int = 28,
                 style: FdaStyle | None = None) -> Iterator[dict[str, np.ndarray]]:
  """Endless batches {image, label} of this process's share of each global batch.

  Batch k holds stream positions [k * global_batch, (k + 1) * global_batch).
  `style`: FDA images (see FdaStyle), made before `transform`.
  """
  offset, local = _process_slice(global_batch)
  n = len(split)

  def positions(step):
    return step * global_batch + offset + tf.range(local, dtype=tf.int64)

  def index(position):
    epoch = position // n
    return position, tf.random.experimental.index_shuffle(
        position % n, seed=tf.stack([tf.constant(seed, tf.int64), epoch]),
        max_index=n - 1)

  ds = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max // global_batch)
  ds = ds.map(positions).unbatch().map(index)
  ds = _examples(split, ds, local, transform, image_size, seed, style)
  return ds.map(lambda _, batch: batch).prefetch(2).as_numpy_iterator()


def eval_batches(split: Split, global_batch: int, transform: str = "digits",
                 image_size: int = 28) -> Iterator[dict[str, np.ndarray]]:
  """One exact pass in order: the last batch is padded, `mask` marks real examples."""
  offset, local = _process_slice(global_batch)
  n = len(split)
  num_batches = -(-n // global_batch)

  def positions(step):
    return step * global_batch + offset + tf.range(local, dtype=tf.int64)

  ds = tf.data.Dataset.range(num_batches).map(positions).unbatch()
  ds = ds.map(lambda position: (position, tf.minimum(position, n - 1)))
  ds = _examples(split, ds, local, transform, image_size, seed=0)
  ds = ds.map(lambda positions, batch: {**batch, "mask": positions < n})
  return ds.prefetch(2).as_numpy_iterator()
