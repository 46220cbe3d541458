"""MNIST, USPS, SVHN and MNIST-M from fixtures in their release formats (gzipped
IDX, HDF5, LIBSVM bz2, .mat, tar.gz of PNGs)."""

import gzip
import hashlib
import os

import numpy as np
import pytest
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from tldomain import data
from tldomain.data import domains
from tldomain.data.builders import common, mnist, mnist_m, usps

import release_fixtures as fx


def assert_same_examples(split: data.Split, images: np.ndarray, labels: np.ndarray):
  """Same (image, label) pairs in any order: TFDS stores examples shuffled."""
  assert len(split) == len(labels)
  want = {images[i].tobytes(): int(labels[i]) for i in range(len(labels))}
  got = {split.images[i].tobytes(): int(split.labels[i]) for i in range(len(split))}
  assert got == want


def test_mnist_from_gzipped_idx_files(tmp_path):
  files, arrays = fx.mnist_files()
  manual = fx.write_files(str(tmp_path / "manual" / "mnist"), files)
  for split in ("train", "test"):
    loaded = data.load_split("mnist", split, str(tmp_path / "tfds"), os.path.dirname(manual))
    images, labels = arrays[split]
    assert_same_examples(loaded, images[..., None], labels)
    assert loaded.channels == 1 and loaded.num_classes == 10


def test_mnist_missing_train_files_build_test_and_explain_train(tmp_path):
  files, arrays = fx.mnist_files()
  manual = tmp_path / "manual"
  fx.write_files(str(manual), {k: v for k, v in files.items() if k.startswith("t10k")})
  tfds_dir = str(tmp_path / "tfds")
  assert len(data.load_split("mnist", "test", tfds_dir, str(manual))) == 6
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.load_split("mnist", "train", tfds_dir, str(manual))
  message = str(error.value)
  for text in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", str(manual),
               mnist.MIRROR + "train-images-idx3-ubyte.gz", mnist.HOMEPAGE):
    assert text in message
  # Once the train files are there, the prepared data is rebuilt with both splits.
  fx.write_files(str(manual), {k: v for k, v in files.items() if k.startswith("train")})
  assert_same_examples(data.load_split("mnist", "train", tfds_dir, str(manual)),
                       arrays["train"][0][..., None], arrays["train"][1])


def test_mnist_accepts_uncompressed_idx_files(tmp_path):
  files, arrays = fx.mnist_files({"t10k": 5})
  fx.write_files(str(tmp_path), {n[:-3]: gzip.decompress(c) for n, c in files.items()})
  loaded = data.load_split("mnist", "test", str(tmp_path / "tfds"), str(tmp_path))
  assert_same_examples(loaded, arrays["test"][0][..., None], arrays["test"][1])


def test_truncated_idx_file_is_named(tmp_path):
  files, _ = fx.mnist_files()
  files["t10k-images-idx3-ubyte.gz"] = fx.idx_bytes(np.zeros((6, 28, 28)))[:-4]
  fx.write_files(str(tmp_path), files)
  with pytest.raises(common.DatasetContentError, match="t10k-images-idx3-ubyte.gz"):
    data.load_split("mnist", "test", str(tmp_path / "tfds"), str(tmp_path))


def test_mnist_download_is_checked_against_tfds_sha256(tmp_path, monkeypatch):
  files, _ = fx.mnist_files()
  requested = fx.serve(monkeypatch, {mnist.MIRROR + name: content
                                     for name, content in files.items()})
  with pytest.raises(NonMatchingChecksumError):
    data.load_split("mnist", "test", str(tmp_path / "tfds"), str(tmp_path / "empty"))
  assert mnist.MIRROR + "t10k-images-idx3-ubyte.gz" in requested


def test_usps_from_the_hdf5_release(tmp_path):
  arrays = fx.make_usps_h5(str(tmp_path / "usps"))
  for split in ("train", "test"):
    loaded = data.load_split("usps", split, str(tmp_path / "tfds"), str(tmp_path))
    values, labels = arrays[split]
    images = np.round(values * 255).astype(np.uint8).reshape(-1, 16, 16, 1)
    assert_same_examples(loaded, images, labels)


def test_usps_from_the_libsvm_release(tmp_path):
  files, arrays = fx.usps_libsvm_files()
  fx.write_files(str(tmp_path), files)
  for split in ("train", "test"):
    loaded = data.load_split("usps", split, str(tmp_path / "tfds"), str(tmp_path))
    values, labels = arrays[split]  # Stored as labels 1..10 and values in [-1, 1].
    images = np.round(values * 255).astype(np.uint8).reshape(-1, 16, 16, 1)
    assert_same_examples(loaded, images, labels)


def test_usps_download_checks_the_published_md5(tmp_path, monkeypatch):
  files, arrays = fx.usps_libsvm_files()
  fx.serve(monkeypatch, {usps.LIBSVM + name: content for name, content in files.items()})
  with pytest.raises(NonMatchingChecksumError, match="not the published ec16c51d"):
    data.load_split("usps", "train", str(tmp_path / "tfds"), str(tmp_path / "empty"))
  monkeypatch.setattr(usps, "MD5", {n: hashlib.md5(c).hexdigest() for n, c in files.items()})
  loaded = data.load_split("usps", "test", str(tmp_path / "tfds"), str(tmp_path / "empty"))
  assert sorted(loaded.labels) == sorted(arrays["test"][1])


def test_svhn_mat_files_map_label_10_to_digit_0(tmp_path):
  arrays = fx.make_svhn(str(tmp_path / "svhn"))
  for split in ("train", "test"):
    loaded = data.load_split("svhn", split, str(tmp_path / "tfds"), str(tmp_path))
    assert_same_examples(loaded, *arrays[split])
  assert 0 in loaded.labels and loaded.labels.max() <= 9


def test_svhn_with_only_the_test_file(tmp_path):
  fx.make_svhn(str(tmp_path), {"test": 5})
  assert len(data.load_split("svhn", "test", str(tmp_path / "tfds"), str(tmp_path))) == 5
  with pytest.raises(data.DatasetNotFoundError, match="train_32x32.mat"):
    data.load_split("svhn", "train", str(tmp_path / "tfds"), str(tmp_path))


@pytest.mark.parametrize("extracted", [False, True])
def test_mnist_m_labels_match_the_label_files(tmp_path, extracted):
  labels = fx.make_mnist_m(str(tmp_path / "mnist_m"), extracted=extracted)
  builder = domains.prepared_builder("mnist_m", str(tmp_path / "tfds"), str(tmp_path))
  for split in ("train", "test"):
    examples = fx.read_split(builder, split)
    assert fx.by_filename(examples) == {f"mnist_m_{split}/{n}": label
                                        for n, label in labels[split].items()}
    assert examples["image"].shape[1:] == (32, 32, 3)


def test_mnist_m_image_of_the_wrong_size_is_named(tmp_path):
  files, _ = fx.mnist_m_files()
  files["mnist_m/mnist_m_test/00000003.png"] = fx.image_bytes(0, "PNG", (28, 28))
  fx.write_tar(str(tmp_path / "mnist_m.tar.gz"), files, gz=True)
  with pytest.raises(common.DatasetContentError,
                     match=r"mnist_m.tar.gz:mnist_m/mnist_m_test/00000003.png is 28x28, not 32x32"):
    data.load_split("mnist_m", "test", str(tmp_path / "tfds"), str(tmp_path))


def test_mnist_m_missing_archive_names_file_folder_and_page(tmp_path):
  with pytest.raises(data.DatasetNotFoundError) as error:
    data.load_split("mnist_m", "train", str(tmp_path / "tfds"), str(tmp_path))
  message = str(error.value)
  assert "mnist_m.tar.gz" in message and str(tmp_path) in message and mnist_m.HOMEPAGE in message
