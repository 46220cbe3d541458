"""MNIST-M (Ganin et al., 2016): MNIST digits blended over patches of BSDS500
photographs, 32x32 RGB, 59001 train and 9001 test.

Built from the public `mnist_m.tar.gz`, read in place, or its extracted folder,
in the manual folder or its mnist_m/ subfolder. The release holds
`mnist_m/mnist_m_train/00000000.png ...` with `mnist_m/mnist_m_train_labels.txt`
(lines `00000000.png 5`), and the same for test; the extracted folder may be
`mnist_m/` or its content. The archive is on Google Drive, which needs a
browser, so it is never downloaded here. Each image's name inside the release
is kept in the `filename` feature.
"""

import os

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

ARCHIVE = "mnist_m.tar.gz"
HOMEPAGE = "http://yaroslav.ganin.net/"
SPLITS = ("train", "test")
SIZE = 32
CITATION = """@article{ganin2016domain,
  title={Domain-adversarial training of neural networks},
  author={Ganin, Yaroslav and Ustinova, Evgeniya and Ajakan, Hana and others},
  journal={JMLR}, volume={17}, number={59}, pages={1--35}, year={2016}}"""


def labels_name(split: str) -> str:
  return f"mnist_m_{split}_labels.txt"


class MnistM(common.ImageFilesBuilder):
  """MNIST-M, 32x32 RGB digits over photographs, 10 classes."""

  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Put {ARCHIVE} (linked from {HOMEPAGE}), or the mnist_m/ folder extracted from "
      "it, in the manual folder or its mnist_m/ subfolder.")

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__,
        features=common.image_features(num_classes=10, shape=(SIZE, SIZE, 3)),
        supervised_keys=("image", "label"), homepage=HOMEPAGE, citation=CITATION)

  def find_release(self, manual_dir: str) -> tuple[common.Release, str]:
    """The release and the prefix of its mnist_m_* entries ("mnist_m/" or "")."""
    folders = common.search_folders(manual_dir, "mnist_m")
    for folder in folders:
      archive = os.path.join(folder, ARCHIVE)
      if os.path.isfile(archive):
        release = common.Release.open(archive)
        for prefix in ("mnist_m/", ""):
          if prefix + labels_name("train") in release.names():
            return release, prefix
        raise common.DatasetContentError(
            f"MNIST-M: {archive} holds no mnist_m/{labels_name('train')}; is it the "
            "MNIST-M release?")
      for sub in ("mnist_m", ""):
        if os.path.isfile(os.path.join(folder, sub, labels_name("train"))):
          return common.FolderRelease(os.path.join(folder, sub)), ""
    raise common.missing_files_error(
        "MNIST-M", [f"{ARCHIVE} (or its extracted folder with mnist_m_train/, "
                    f"{labels_name('train')}, mnist_m_test/ and {labels_name('test')})"],
        folders, HOMEPAGE)

  def _split_generators(self, dl_manager):
    release, prefix = self.find_release(common.manual_folder(dl_manager))
    generators = {}
    for split in SPLITS:
      list_name = prefix + labels_name(split)
      if list_name not in release.names():
        raise common.DatasetContentError(
            f"MNIST-M: {release.where(list_name)} is missing; the release is incomplete.")
      where = release.where(list_name)
      entries = common.parse_image_list(common.read_text(release, list_name), where)
      wrong = [f"{name} {label}" for name, label in entries if not 0 <= label <= 9]
      if wrong:
        raise common.DatasetContentError(
            f"MNIST-M: {where} has labels outside 0..9: {', '.join(wrong[:5])}.")
      items = [(f"{prefix}mnist_m_{split}/{name}", label) for name, label in entries]
      generators[split] = self._generate_examples(f"MNIST-M {split}", release, items, where,
                                                  strip=prefix)
    return generators

  def _generate_examples(self, dataset, release, items, where, classes=None, strip=""):
    """The release's images, each checked to be 32x32."""
    for key, example in super()._generate_examples(dataset, release, items, where, classes,
                                                   strip):
      size = common.image_size(example["image"])
      if size != (SIZE, SIZE):
        raise common.DatasetContentError(
            f"MNIST-M: {release.where(key)} is {size[0]}x{size[1]}, not {SIZE}x{SIZE}.")
      yield key, example


register_domain(Domain(
    "mnist_m", MnistM,
    description="MNIST-M digits over photographs (32x32 RGB; train 59001, test 9001), "
    "from mnist_m.tar.gz or its extracted folder."))
