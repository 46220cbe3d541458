"""The builders on the real files in $TLDOMAIN_TEST_DATA (CI: ../shared/data),
and a run from USPS to MNIST on them."""

import json
import os

import numpy as np
import pytest

from tldomain import data, trainers
from tldomain.data import domains

import release_fixtures as fx
from real_data import REAL_DATA as REAL, REAL_DATA_UNSET

pytestmark = pytest.mark.skipif(not REAL, reason=REAL_DATA_UNSET)

USPS_TRAIN_COUNTS = [1194, 1005, 731, 658, 652, 556, 664, 645, 542, 644]
USPS_TEST_COUNTS = [359, 264, 198, 166, 200, 160, 170, 147, 166, 177]


def test_usps_h5_release(real_tfds):
  train_split = data.load_split("usps", "train", real_tfds, REAL)
  test_split = data.load_split("usps", "test", real_tfds, REAL)
  assert (len(train_split), len(test_split)) == (7291, 2007)
  assert np.bincount(train_split.labels).tolist() == USPS_TRAIN_COUNTS
  assert np.bincount(test_split.labels).tolist() == USPS_TEST_COUNTS
  assert train_split.images.shape[1:] == (16, 16, 1) and train_split.images.max() > 200


def test_mnist_test_split_from_idx_files_and_train_split_explained(real_tfds):
  test_split = data.load_split("mnist", "test", real_tfds, REAL)
  assert len(test_split) == 10000 and test_split.images.shape[1:] == (28, 28, 1)
  assert np.bincount(test_split.labels).tolist() == [
      980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # MNIST's test class counts
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.load_split("mnist", "train", real_tfds, REAL)
  message = str(error.value)
  for text in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               os.path.join(REAL, "mnist"), "https://storage.googleapis.com/cvdf-datasets/mnist/"):
    assert text in message


def test_mnist_m_sample_labels_match_the_label_files(tmp_path):
  sample = os.path.join(REAL, "mnist_m_sample")
  builder = domains.prepared_builder("mnist_m", str(tmp_path), sample)
  for split, count in (("train", 1000), ("test", 500)):
    with open(os.path.join(sample, f"mnist_m_{split}_labels.txt")) as f:
      want = {f"mnist_m_{split}/{name}": int(label) for name, label in
              (line.split() for line in f if line.strip())}
    examples = fx.read_split(builder, split)
    assert len(examples["label"]) == count
    assert fx.by_filename(examples) == want
    assert examples["image"].shape[1:] == (32, 32, 3)


def test_run_from_usps_to_mnist_test_split(small_config, real_tfds, tmp_path):
  config = small_config("dann", steps=4)
  config.data.source, config.data.target = "usps", "mnist"
  config.data.data_dir, config.data.manual_dir = real_tfds, REAL
  # Only MNIST's test split is on these machines: a transductive run.
  config.data.target_train_split = config.data.target_test_split = "test"
  config.data.eval_batch_size = 512
  config.train.log_every = config.train.eval_every = 4
  workdir = str(tmp_path / "run")
  results = trainers.run(config, workdir)
  on_disk = json.load(open(os.path.join(workdir, "results.json")))
  assert on_disk == results
  assert (results["source"], results["target"], results["steps"]) == ("usps", "mnist", 4)
  assert 0.0 <= results["target_test_accuracy"] <= 1.0
