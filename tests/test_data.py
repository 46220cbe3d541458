import numpy as np
import pytest

from tldomain import data
from tldomain.data.builders import embedded_digits


def test_embedded_domains_have_the_documented_splits(data_dir):
  source_train = data.load_split("uci_digits", "train", data_dir)
  source_test = data.load_split("uci_digits", "test", data_dir)
  target_train = data.load_split("uci_digits_m", "train", data_dir)
  target_test = data.load_split("uci_digits_m", "test", data_dir)
  assert (len(source_train), len(source_test)) == (1347, 450)
  assert (len(target_train), len(target_test)) == (1347, 450)
  assert source_train.channels == 1 and target_train.channels == 3
  assert source_train.num_classes == target_test.num_classes == 10
  # Target train is unlabelled; target test is labelled with every class present.
  assert np.all(target_train.labels == -1)
  assert sorted(set(target_test.labels)) == list(range(10))
  assert np.array_equal(np.sort(source_test.labels), np.sort(target_test.labels))


def test_target_test_digits_are_disjoint_from_train_digits():
  splits = embedded_digits.split_indices()
  assert not set(splits["train"]) & set(splits["test"])
  assert len(splits["train"]) + len(splits["test"]) == 1797


def test_target_images_are_digits_blended_over_photos():
  digits, _ = embedded_digits.uci_digits_canvas()
  photos = embedded_digits.load_photos()
  rng = np.random.RandomState(0)
  blended = embedded_digits.blend_over_photos(digits[:20], photos, rng)
  assert blended.shape == (20, 28, 28, 3) and blended.dtype == np.uint8
  # Recompute the first one by hand: |patch - digit| per channel.
  rng = np.random.RandomState(0)
  photo = photos[rng.randint(len(photos))]
  y, x = rng.randint(photo.shape[0] - 27), rng.randint(photo.shape[1] - 27)
  patch = photo[y:y + 28, x:x + 28].astype(int)
  np.testing.assert_array_equal(blended[0], np.abs(patch - digits[0][..., None].astype(int)))
  assert blended.std(axis=(1, 2)).mean() > 10  # colourful backgrounds, not flat grey


def test_train_stream_is_a_function_of_seed_and_step(data_dir):
  split = data.load_split("uci_digits", "train", data_dir)
  stream = data.train_stream(split, 16, seed=3)
  first = [next(stream) for _ in range(4)]
  restarted = next(data.train_stream(split, 16, seed=3, start_step=2))
  np.testing.assert_array_equal(restarted["label"], first[2]["label"])
  np.testing.assert_array_equal(restarted["image"], first[2]["image"])
  other_seed = next(data.train_stream(split, 16, seed=4))
  assert not np.array_equal(other_seed["label"], first[0]["label"])
  assert first[0]["image"].shape == (16, 28, 28, 3)
  assert first[0]["image"].min() >= -1.0 and first[0]["image"].max() <= 1.0


def test_train_stream_visits_every_example_once_per_epoch(data_dir):
  split = data.load_split("uci_digits", "test", data_dir)  # 450 examples
  stream = data.train_stream(split, 50, seed=0)
  labels = np.concatenate([next(stream)["label"] for _ in range(9)])  # one epoch
  np.testing.assert_array_equal(np.bincount(labels, minlength=10),
                                np.bincount(split.labels, minlength=10))


def test_eval_pass_counts_every_example_once(data_dir):
  split = data.load_split("uci_digits_m", "test", data_dir)
  batches = list(data.eval_batches(split, 128))
  assert len(batches) == 4 and all(len(b["label"]) == 128 for b in batches)
  mask = np.concatenate([b["mask"] for b in batches])
  labels = np.concatenate([b["label"] for b in batches])
  assert mask.sum() == 450 and mask[:450].all() and not mask[450:].any()
  np.testing.assert_array_equal(labels[:450], split.labels)


def test_unknown_dataset_lists_valid_names(data_dir):
  with pytest.raises(KeyError, match="Unknown dataset 'mnsit'. Valid names: .*uci_digits"):
    data.load_split("mnsit", "train", data_dir)


def test_unknown_split_lists_the_splits(data_dir):
  with pytest.raises(ValueError, match="no split 'validation'; it has test, train"):
    data.load_split("uci_digits", "validation", data_dir)


def test_missing_photographs_name_the_files_and_folder(tmp_path, monkeypatch):
  import skimage.data  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(skimage.data, "data_dir", str(tmp_path))
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.load_split("uci_digits_m", "test", str(tmp_path / "tfds"))
  message = str(error.value)
  assert "astronaut.png" in message and str(tmp_path) in message
  assert "pip install --force-reinstall scikit-image" in message


def test_encoded_and_decoded_splits_give_the_same_batches(data_dir, monkeypatch):
  from tldomain.data import pipeline  # pylint: disable=g-import-not-at-top
  decoded = data.load_split("uci_digits_m", "test", data_dir)
  monkeypatch.setattr(pipeline, "DECODED_CACHE_BYTES", 0)
  encoded = data.load_split("uci_digits_m", "test", data_dir)
  assert not decoded.encoded and encoded.encoded
  a = next(data.train_stream(decoded, 16, seed=1, start_step=5))
  b = next(data.train_stream(encoded, 16, seed=1, start_step=5))
  np.testing.assert_array_equal(a["image"], b["image"])
  np.testing.assert_array_equal(a["label"], b["label"])


def test_streamed_split_gives_the_same_examples_as_the_in_memory_one(data_dir, monkeypatch):
  from tldomain.data import pipeline  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(pipeline, "DECODED_CACHE_BYTES", 0)  # PNG bytes in memory ...
  in_memory = data.load_split("uci_digits_m", "test", data_dir)
  monkeypatch.setattr(pipeline, "IN_MEMORY_BYTES", 0)  # ... or read from the TFRecords
  streamed = data.load_split("uci_digits_m", "test", data_dir)
  assert in_memory.encoded and not in_memory.streamed
  assert streamed.streamed and streamed.images is None and len(streamed) == 450
  # Same (seed, position) -> same example, from any start step; every epoch, too.
  for start in (0, 13, 40):
    a = data.train_stream(in_memory, 32, seed=7, start_step=start, transform="digits_train")
    b = data.train_stream(streamed, 32, seed=7, start_step=start, transform="digits_train")
    for _ in range(2):
      x, y = next(a), next(b)
      np.testing.assert_array_equal(x["image"], y["image"])
      np.testing.assert_array_equal(x["label"], y["label"])
  # Evaluation passes, and the labels read with each example, match too.
  for x, y in zip(data.eval_batches(in_memory, 128), data.eval_batches(streamed, 128)):
    for key in ("image", "label", "mask"):
      np.testing.assert_array_equal(x[key], y[key])
  # Slices, subsets and hidden labels work on streamed splits.
  sliced = data.load_split("uci_digits_m", "test[100:150]", data_dir)
  assert sliced.streamed and len(sliced) == 50
  batch = next(data.eval_batches(sliced, 50))
  np.testing.assert_array_equal(batch["label"], in_memory.labels[100:150])
  index = np.array([5, 3, 400])
  hidden = streamed.take(index).hide_labels()
  batch = next(data.eval_batches(hidden, 3))
  np.testing.assert_array_equal(batch["label"], [-1, -1, -1])
  np.testing.assert_array_equal(
      batch["image"], next(data.eval_batches(in_memory.take(index), 3))["image"])


def test_records_index_follows_file_instructions_across_files(tmp_path):
  import collections  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tldomain.data.pipeline import Records  # pylint: disable=g-import-not-at-top
  Instruction = collections.namedtuple("Instruction", "filename skip take examples_in_shard")
  paths = []
  for f, count in enumerate((5, 7)):
    paths.append(str(tmp_path / f"x.tfrecord-{f:05d}-of-00002"))
    with tf.io.TFRecordWriter(paths[-1]) as writer:
      for i in range(count):
        writer.write(f"file{f}-record{i}-".encode() * (i + 1))
  records = Records.index([Instruction(paths[0], 3, 2, 5), Instruction(paths[1], 0, -1, 7)])
  expected = [f"file0-record{i}-".encode() * (i + 1) for i in (3, 4)] + [
      f"file1-record{i}-".encode() * (i + 1) for i in range(7)]
  assert len(records) == 9 and [records.read(i) for i in range(9)] == expected
  assert records.take(np.array([8, 0])).read(0) == expected[8]
  with pytest.raises(ValueError, match="holds 5 records; TFDS expects 6"):
    Records.index([Instruction(paths[0], 0, 6, 6)])
