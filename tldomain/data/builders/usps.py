"""USPS handwritten digits (Hull, 1994): 16x16 grey, 7291 train and 2007 test.

Reads either public release from the manual folder (or its usps/ subfolder):
- the HDF5 one, `usps.h5`: `train/data` (N, 256) floats in [0, 1], row-major
  16x16 images, `train/target` digits 0..9, and the same under `test/`;
- LIBSVM's, `usps.bz2` and `usps.t.bz2`: lines `label index:value ...`, labels
  1..10 for digits 0..9, values in [-1, 1].
With neither there, LIBSVM's files are downloaded. No sha256 of them is
published, so TFDS cannot check one; their MD5s, as published by torchvision
(torchvision/datasets/usps.py), are checked instead.
"""

import bz2
import hashlib

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

HOMEPAGE = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass.html#usps"
LIBSVM = "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/"
H5_NAME = "usps.h5"
SPLIT_FILES = {"train": ("usps.bz2",), "test": ("usps.t.bz2",)}
MD5 = {"usps.bz2": "ec16c51db3855ca6c91edd34d0e9b197",
       "usps.t.bz2": "8ea070ee2aca1ac39742fdd1ef5ed118"}
SIDE = 16


def md5(path: str) -> str:
  digest = hashlib.md5()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def to_uint8(values: np.ndarray, low: float, path: str) -> np.ndarray:
  """(N, 256) values in [low, 1] as (N, 16, 16, 1) uint8 images."""
  if values.ndim != 2 or values.shape[1] != SIDE * SIDE:
    raise common.DatasetContentError(
        f"{path}: images have shape {values.shape[1:]}, not 256 = 16x16 values.")
  if values.size and (values.min() < low - 1e-3 or values.max() > 1 + 1e-3):
    raise common.DatasetContentError(
        f"{path}: pixel values span [{values.min()}, {values.max()}], not [{low}, 1].")
  scaled = (np.clip(values, low, 1.0) - low) / (1.0 - low) * 255.0
  return np.round(scaled).astype(np.uint8).reshape(-1, SIDE, SIDE, 1)


def read_h5(path: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  import h5py  # pylint: disable=g-import-not-at-top
  try:
    with h5py.File(path, "r") as f:
      data, target = f[f"{split}/data"][()], f[f"{split}/target"][()]
  except KeyError as e:
    raise common.DatasetContentError(
        f"{path} lacks {split}/data or {split}/target; is it the USPS HDF5 release?") from e
  except OSError as e:
    raise common.DatasetContentError(f"Cannot read {path} ({e}); download it again.") from e
  labels = np.asarray(target).astype(np.int64).reshape(-1)
  if len(labels) != len(data):
    raise common.DatasetContentError(
        f"{path}: {split}/data holds {len(data)} images but {split}/target {len(labels)} labels.")
  if labels.size and (labels.min() < 0 or labels.max() > 9):
    raise common.DatasetContentError(f"{path}: {split}/target holds labels outside 0..9.")
  return to_uint8(np.asarray(data, np.float32), 0.0, path), labels


def read_libsvm(path: str) -> tuple[np.ndarray, np.ndarray]:
  from sklearn.datasets import load_svmlight_file  # pylint: disable=g-import-not-at-top
  try:
    with bz2.open(path, "rb") as f:
      features, target = load_svmlight_file(f, n_features=SIDE * SIDE)
  except (OSError, EOFError, ValueError) as e:
    raise common.DatasetContentError(
        f"Cannot read {path} as LIBSVM data ({e}); download it again.") from e
  if target.size and (target.min() < 1 or target.max() > 10 or np.any(target % 1)):
    raise common.DatasetContentError(f"{path}: labels are not the integers 1..10.")
  return to_uint8(features.toarray(), -1.0, path), target.astype(np.int64) - 1


class Usps(common.SplitFilesBuilder):
  """USPS handwritten digits, 16x16 grey, 10 classes."""

  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Optional: put {H5_NAME}, or usps.bz2 and usps.t.bz2, in the manual folder or "
      "its usps/ subfolder; otherwise the LIBSVM files are downloaded.")
  TITLE = "USPS"
  MANUAL_SUBDIR = "usps"
  HOMEPAGE = HOMEPAGE
  SPLIT_FILES = SPLIT_FILES
  IMAGE_SHAPE = (SIDE, SIDE, 1)
  CITATION = "Hull (1994), A database for handwritten text recognition research. IEEE TPAMI 16(5)."
  URLS = {name: LIBSVM + name for names in SPLIT_FILES.values() for name in names}
  ALTERNATIVE = f"The HDF5 release, {H5_NAME}, may be put there instead."

  def locate(self, manual_dir):
    h5 = common.find(self.folders(manual_dir), H5_NAME)
    if h5:
      return {split: [h5] for split in SPLIT_FILES}, {}
    return super().locate(manual_dir)

  def after_download(self, paths):
    for name, path in paths.items():
      got = md5(path)
      if got != MD5[name]:
        raise NonMatchingChecksumError(
            f"{self.URLS[name]}, downloaded to {path}, has MD5 {got}, not the published "
            f"{MD5[name]}. Delete it and try again.")

  def read_split(self, split, paths):
    (path,) = paths
    return read_h5(path, split) if path.endswith(".h5") else read_libsvm(path)


register_domain(Domain(
    "usps", Usps,
    description="USPS handwritten digits (16x16 grey; train 7291, test 2007), from "
    "usps.h5 or LIBSVM's usps.bz2/usps.t.bz2 (downloaded when absent)."))
