"""VisDA-2017 classification (Peng et al., 2017): 12 classes, synthetic renders
(152397 images, the challenge's train set) and real photos cropped from COCO
(55388, its validation set).

Built from the official `train.tar` (synthetic) and `validation.tar` (real),
read in place, or their extracted `train/` and `validation/` folders, in the
manual folder or its visda2017/ subfolder. Each holds `image_list.txt` with
lines `<class>/<image> <label>`; the builder checks every label against its
class folder and the official class order. The archives are large (about 12
and 3 GB), so they are not downloaded by the builder.
"""

import dataclasses
import os

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

HOMEPAGE = "https://github.com/VisionLearningGroup/taskcv-2017-public/tree/master/classification"
URL = "http://csr.bu.edu/ftp/visda17/clf/"
LIST_NAME = "image_list.txt"
# The official label order (label i is CLASSES[i] in image_list.txt).
CLASSES = ("aeroplane", "bicycle", "bus", "car", "horse", "knife", "motorcycle", "person",
           "plant", "skateboard", "train", "truck")
CITATION = """@article{peng2017visda,
  title={VisDA: The visual domain adaptation challenge},
  author={Peng, Xingchao and Usman, Ben and Kaushik, Neela and Hoffman, Judy and
          Wang, Dequan and Saenko, Kate},
  journal={arXiv:1710.06924}, year={2017}}"""


@dataclasses.dataclass
class Visda2017Config(tfds.core.BuilderConfig):
  """One domain: `part` is the archive (train or validation) and the split name;
  `classes` is the benchmark's class list (tests pass a subset)."""
  part: str = ""
  classes: tuple[str, ...] = CLASSES


class Visda2017(common.ImageFilesBuilder):
  """VisDA-2017 classification, one domain per config."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [Visda2017Config(name="synthetic", part="train"),
                     Visda2017Config(name="real", part="validation")]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Put train.tar and validation.tar (from {URL}, see {HOMEPAGE}), or the train/ "
      "and validation/ folders extracted from them, in the manual folder or its "
      "visda2017/ subfolder.")

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__,
        features=common.image_features(self.builder_config.classes),
        supervised_keys=("image", "label"), homepage=HOMEPAGE, citation=CITATION)

  def find_release(self, manual_dir: str) -> common.Release:
    part = self.builder_config.part
    folders = common.search_folders(manual_dir, "visda2017")
    for folder in folders:
      archive = os.path.join(folder, f"{part}.tar")
      if os.path.isfile(archive):
        return common.Release.open(archive)
      if os.path.isfile(os.path.join(folder, part, LIST_NAME)):
        return common.FolderRelease(os.path.join(folder, part), f"{part}/")
    raise common.missing_files_error(
        f"VisDA-2017 ({self.builder_config.name})",
        [f"{part}.tar (or its extracted {part}/ folder with {LIST_NAME})"], folders,
        f"{URL}{part}.tar (see {HOMEPAGE})")

  def _split_generators(self, dl_manager):
    part = self.builder_config.part
    release = self.find_release(common.manual_folder(dl_manager))
    title = f"VisDA-2017 {self.builder_config.name}"
    list_name = f"{part}/{LIST_NAME}"
    if list_name not in release.names():
      raise common.DatasetContentError(f"{title}: {release.where(list_name)} is missing.")
    where = release.where(list_name)
    entries = common.parse_image_list(common.read_text(release, list_name), where)
    items = common.check_listed_labels(title, entries, CLASSES, where)
    common.check_classes(title, {c for _, c in items}, self.builder_config.classes, where)
    items = [(f"{part}/{path}", cls) for path, cls in items]
    return {part: self._generate_examples(title, release, items, where,
                                         self.builder_config.classes, strip=f"{part}/")}


register_domain(Domain(
    "visda2017/synthetic", Visda2017, builder_config="synthetic",
    train_split="train", test_split="train",
    description="VisDA-2017 synthetic renders: the train split of train.tar, the "
    "benchmark's source; also its test split (source accuracy)."))
register_domain(Domain(
    "visda2017/real", Visda2017, builder_config="real",
    train_split="validation", test_split="validation",
    description="VisDA-2017 real photos: the validation split of validation.tar, the "
    "benchmark's target; its images are the target's unlabelled train data and its "
    "labelled test data."))
