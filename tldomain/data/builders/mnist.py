"""MNIST (LeCun et al., 1998) from its IDX files: 28x28 grey digits, 60000 train
and 10000 test.

Our own builder rather than TFDS's `mnist`, which always downloads all four
files: this one also builds from files in the manual folder (`.gz` or not),
and builds the test split alone when only the t10k files are there.
"""

import gzip

import numpy as np
import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

HOMEPAGE = "http://yann.lecun.com/exdb/mnist/"
MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# Sizes and sha256 as registered by TensorFlow Datasets for these URLs
# (tensorflow_datasets/url_checksums/mnist.txt).
CHECKSUMS = {
    MIRROR + "train-images-idx3-ubyte.gz":
        (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    MIRROR + "train-labels-idx1-ubyte.gz":
        (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    MIRROR + "t10k-images-idx3-ubyte.gz":
        (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    MIRROR + "t10k-labels-idx1-ubyte.gz":
        (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
IDX_UBYTE = 0x08


def read_idx(path: str) -> np.ndarray:
  """An IDX file of unsigned bytes (gzipped or not) as an array of its shape."""
  try:
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
      data = f.read()
  except (OSError, EOFError) as e:
    raise common.DatasetContentError(f"Cannot read {path} ({e}); download it again.") from e
  if len(data) < 4 or data[:2] != b"\0\0" or data[2] != IDX_UBYTE:
    raise common.DatasetContentError(f"{path} is not an IDX file of unsigned bytes.")
  ndim = data[3]
  header = 4 + 4 * ndim
  shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
  if len(data) != header + int(np.prod(shape)):
    raise common.DatasetContentError(
        f"{path} is truncated or padded: {len(data)} bytes where its header "
        f"{shape} implies {header + int(np.prod(shape))}; download it again.")
  return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


class MnistIdx(common.SplitFilesBuilder):
  """MNIST handwritten digits, 28x28 grey, 10 classes, from the IDX files."""

  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Optional: put the four IDX files ({', '.join(sum(SPLIT_FILES.values(), ()))}) "
      f"in the manual folder or its mnist/ subfolder; otherwise they are downloaded.")
  TITLE = "MNIST"
  MANUAL_SUBDIR = "mnist"
  HOMEPAGE = HOMEPAGE
  SPLIT_FILES = SPLIT_FILES
  CHECKSUMS = CHECKSUMS
  IMAGE_SHAPE = (28, 28, 1)
  CITATION = ("LeCun, Bottou, Bengio & Haffner (1998), Gradient-based learning applied "
              "to document recognition. Proc. IEEE 86(11).")
  URLS = {name: MIRROR + name for names in SPLIT_FILES.values() for name in names}

  def read_split(self, split, paths):
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
      raise common.DatasetContentError(
          f"{paths[0]} holds images of shape {images.shape[1:]} and {paths[1]} labels "
          f"of shape {labels.shape[1:]}; MNIST has 28x28 images and scalar labels.")
    if len(images) != len(labels):
      raise common.DatasetContentError(
          f"{paths[0]} holds {len(images)} images but {paths[1]} {len(labels)} labels.")
    if labels.size and labels.max() > 9:
      raise common.DatasetContentError(f"{paths[1]} holds labels above 9.")
    return images[..., None], labels


register_domain(Domain(
    "mnist", MnistIdx,
    description="MNIST handwritten digits (28x28 grey; train 60000, test 10000). Built "
    "from the IDX files in the manual folder, else downloaded; a split whose files "
    "are missing is reported when asked for."))
