"""Office-31 (Saenko et al., 2010): 31 office object classes in three domains,
amazon (2817 product images), dslr (498) and webcam (795).

Built from the standard archive `domain_adaptation_images.tar.gz`, read in
place, or its extracted folder (`<domain>/images/<class>/*.jpg`), in the manual
folder or its office31/ subfolder. The archive is on Google Drive, which needs
a browser, so it is never downloaded here. Each domain is one split, `train`,
used for both training and testing as is usual for this benchmark.
"""

import dataclasses

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

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


class Office31(common.ClassFolderDomainBuilder):
  """Office-31, one domain per config."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [Office31Config(name=d, domain=d) for d in DOMAIN_NAMES]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Put {ARCHIVE} (from {SOURCE}), or the amazon/, dslr/ and webcam/ folders "
      "extracted from it, in the manual folder or its office31/ subfolder.")
  TITLE, ARCHIVE, SUBFOLDER = "Office-31", ARCHIVE, "office31"
  HOMEPAGE, SOURCE, CITATION = HOMEPAGE, SOURCE, CITATION

  def candidates(self) -> list[str]:
    domain = self.builder_config.domain
    return [f"{domain}/images/", f"domain_adaptation_images/{domain}/images/"]


for _domain in DOMAIN_NAMES:
  register_domain(Domain(
      f"office31/{_domain}", Office31, builder_config=_domain,
      train_split="train", test_split="train",
      description=f"Office-31 {_domain}. One split, train, serves as both train and "
      "test (the usual protocol: the target's images are its unlabelled train data "
      "and its labelled test data)."))
