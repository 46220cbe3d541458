"""Office-31 (Saenko et al., 2010): 31 office object classes in three domains,
amazon (2817 product images), dslr (498) and webcam (795).

Built from the standard archive `domain_adaptation_images.tar.gz`, read in
place, or its extracted folder (`<domain>/images/<class>/*.jpg`), in the manual
folder or its office31/ subfolder. The archive is on Google Drive, which needs
a browser, so it is never downloaded here. Each domain is one split, `train`,
used for both training and testing as is usual for this benchmark.
"""

import dataclasses
import os

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.domains import Domain, register_domain

ARCHIVE = "domain_adaptation_images.tar.gz"
HOMEPAGE = "https://faculty.cc.gatech.edu/~judy/domainadapt/"
SOURCE = (f"{HOMEPAGE} (the archive is at "
          "https://drive.google.com/file/d/0B4IapRTv9pJ1WGZVd1VDMmhwdlE)")
DOMAIN_NAMES = ("amazon", "dslr", "webcam")
# The class folders, sorted: label i is CLASSES[i] in every domain.
CLASSES = (
    "back_pack", "bike", "bike_helmet", "bookcase", "bottle", "calculator", "desk_chair",
    "desk_lamp", "desktop_computer", "file_cabinet", "headphones", "keyboard",
    "laptop_computer", "letter_tray", "mobile_phone", "monitor", "mouse", "mug",
    "paper_notebook", "pen", "phone", "printer", "projector", "punchers", "ring_binder",
    "ruler", "scissors", "speaker", "stapler", "tape_dispenser", "trash_can")
CITATION = """@inproceedings{saenko2010adapting,
  title={Adapting visual category models to new domains},
  author={Saenko, Kate and Kulis, Brian and Fritz, Mario and Darrell, Trevor},
  booktitle={ECCV}, year={2010}}"""


@dataclasses.dataclass
class Office31Config(tfds.core.BuilderConfig):
  """One domain; `classes` is the benchmark's class list (tests pass a subset)."""
  domain: str = ""
  classes: tuple[str, ...] = CLASSES


class Office31(common.ImageFilesBuilder):
  """Office-31, one domain per config."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [Office31Config(name=d, domain=d) for d in DOMAIN_NAMES]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Put {ARCHIVE} (from {SOURCE}), or the amazon/, dslr/ and webcam/ folders "
      "extracted from it, in the manual folder or its office31/ subfolder.")

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__,
        features=common.image_features(self.builder_config.classes),
        supervised_keys=("image", "label"), homepage=HOMEPAGE, citation=CITATION)

  def find_release(self, manual_dir: str) -> tuple[common.Release, str]:
    """The release holding this domain, and the prefix of its class folders."""
    domain = self.builder_config.domain
    folders = common.search_folders(manual_dir, "office31")
    for folder in folders:
      archive = os.path.join(folder, ARCHIVE)
      if os.path.isfile(archive):
        release = common.Release.open(archive)
        for prefix in (f"{domain}/images/", f"domain_adaptation_images/{domain}/images/"):
          if any(n.startswith(prefix) for n in release.names()):
            return release, prefix
        raise common.DatasetContentError(
            f"Office-31: {archive} holds no {domain}/images/ folder; the domain is empty.")
      for sub in ("", "domain_adaptation_images"):
        images = os.path.join(folder, sub, domain, "images")
        if os.path.isdir(images):
          prefix = f"{domain}/images/"
          return common.FolderRelease(images, prefix), prefix
    raise common.missing_files_error(
        f"Office-31 ({domain})", [f"{ARCHIVE} (or its extracted {domain}/images/ folder)"],
        folders, SOURCE)

  def _split_generators(self, dl_manager):
    release, prefix = self.find_release(common.manual_folder(dl_manager))
    title = f"Office-31 {self.builder_config.domain}"
    where = release.where(prefix)
    items = common.class_folder_items(release, prefix)
    common.check_classes(title, {c for _, c in items}, self.builder_config.classes, where)
    return {"train": self._generate_examples(title, release, items, where,
                                            self.builder_config.classes, strip=prefix)}


for _domain in DOMAIN_NAMES:
  register_domain(Domain(
      f"office31/{_domain}", Office31, builder_config=_domain,
      train_split="train", test_split="train",
      description=f"Office-31 {_domain}. One split, train, serves as both train and "
      "test (the usual protocol: the target's images are its unlabelled train data "
      "and its labelled test data)."))
