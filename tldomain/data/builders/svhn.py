"""SVHN cropped digits (Netzer et al., 2011): 32x32 RGB house numbers, 73257 train
and 26032 test, from the official `train_32x32.mat` and `test_32x32.mat`.

Our own builder rather than TFDS's `svhn_cropped`, which always downloads: this
one also builds from the .mat files in the manual folder (or its svhn/
subfolder), and a split alone when only its file is there. The "extra" split
is not used. In the .mat files digit 0 has label 10; here it is 0.
"""

import numpy as np
import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

HOMEPAGE = "http://ufldl.stanford.edu/housenumbers/"
SPLIT_FILES = {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)}
# Sizes and sha256 as registered by TensorFlow Datasets for these URLs
# (tensorflow_datasets/datasets/svhn_cropped/checksums.tsv).
CHECKSUMS = {
    HOMEPAGE + "train_32x32.mat":
        (182040794, "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8"),
    HOMEPAGE + "test_32x32.mat":
        (64275384, "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b"),
}


def read_mat(path: str) -> tuple[np.ndarray, np.ndarray]:
  """(images (N, 32, 32, 3), labels 0..9) from an SVHN .mat file."""
  import scipy.io  # pylint: disable=g-import-not-at-top
  try:
    mat = scipy.io.loadmat(path)
  except (OSError, ValueError, TypeError) as e:
    raise common.DatasetContentError(f"Cannot read {path} ({e}); download it again.") from e
  if "X" not in mat or "y" not in mat:
    raise common.DatasetContentError(f"{path} lacks the arrays X and y of the SVHN release.")
  images, labels = mat["X"], mat["y"].astype(np.int64).reshape(-1)
  if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.dtype != np.uint8:
    raise common.DatasetContentError(
        f"{path}: X has shape {images.shape} and type {images.dtype}, not (32, 32, 3, N) uint8.")
  if images.shape[3] != len(labels):
    raise common.DatasetContentError(
        f"{path}: X holds {images.shape[3]} images but y {len(labels)} labels.")
  if labels.size and (labels.min() < 1 or labels.max() > 10):
    raise common.DatasetContentError(f"{path}: y holds labels outside 1..10.")
  return np.ascontiguousarray(images.transpose(3, 0, 1, 2)), labels % 10


class Svhn(common.SplitFilesBuilder):
  """SVHN cropped digits, 32x32 RGB, 10 classes."""

  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "Optional: put train_32x32.mat and test_32x32.mat in the manual folder or its "
      "svhn/ subfolder; otherwise they are downloaded.")
  TITLE = "SVHN"
  MANUAL_SUBDIR = "svhn"
  HOMEPAGE = HOMEPAGE
  SPLIT_FILES = SPLIT_FILES
  CHECKSUMS = CHECKSUMS
  IMAGE_SHAPE = (32, 32, 3)
  CITATION = ("Netzer, Wang, Coates, Bissacco, Wu & Ng (2011), Reading digits in natural "
              "images with unsupervised feature learning. NIPS workshop.")
  URLS = {name: HOMEPAGE + name for names in SPLIT_FILES.values() for name in names}

  def read_split(self, split, paths):
    return read_mat(paths[0])


register_domain(Domain(
    "svhn", Svhn,
    description="SVHN cropped digits (32x32 RGB; train 73257, test 26032), from the "
    ".mat files in the manual folder, else downloaded."))
