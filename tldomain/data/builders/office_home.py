"""Office-Home (Venkateswara et al., 2017): 65 office and home object classes in
four domains, Art (2427 images), Clipart (4365), Product (4439) and Real World
(4357).

Built from the official `OfficeHomeDataset_10072016.zip`, read in place, or its
extracted folder (`<Domain>/<class>/*.jpg`, with or without the
OfficeHomeDataset_10072016/ folder around it), in the manual folder or its
office_home/ subfolder. The download page asks for a form and a browser, so it
is never downloaded here. The real-world domain's folder is "Real World" in the
official zip; "Real_World" and "RealWorld" are accepted too. Each domain is one
split, `train`, used for both training and testing as is usual.
"""

import dataclasses

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

ARCHIVE = "OfficeHomeDataset_10072016.zip"
TOP = "OfficeHomeDataset_10072016"
HOMEPAGE = "https://www.hemanthdv.org/officeHomeDataset.html"
# Config name -> accepted folder names of the domain.
DOMAIN_FOLDERS = {
    "art": ("Art",),
    "clipart": ("Clipart",),
    "product": ("Product",),
    "real_world": ("Real World", "Real_World", "RealWorld"),
}
# The class folders, sorted: label i is CLASSES[i] in every domain.
CLASSES = tuple(sorted((
    "Alarm_Clock", "Backpack", "Batteries", "Bed", "Bike", "Bottle", "Bucket", "Calculator",
    "Calendar", "Candles", "Chair", "Clipboards", "Computer", "Couch", "Curtains", "Desk_Lamp",
    "Drill", "Eraser", "Exit_Sign", "Fan", "File_Cabinet", "Flipflops", "Flowers", "Folder",
    "Fork", "Glasses", "Hammer", "Helmet", "Kettle", "Keyboard", "Knives", "Lamp_Shade",
    "Laptop", "Marker", "Monitor", "Mop", "Mouse", "Mug", "Notebook", "Oven", "Pan",
    "Paper_Clip", "Pen", "Pencil", "Postit_Notes", "Printer", "Push_Pin", "Radio",
    "Refrigerator", "Ruler", "Scissors", "Screwdriver", "Shelf", "Sink", "Sneakers", "Soda",
    "Speaker", "Spoon", "TV", "Table", "Telephone", "ToothBrush", "Toys", "Trash_Can",
    "Webcam")))
CITATION = """@inproceedings{venkateswara2017deep,
  title={Deep hashing network for unsupervised domain adaptation},
  author={Venkateswara, Hemanth and Eusebio, Jose and Chakraborty, Shayok and
          Panchanathan, Sethuraman},
  booktitle={CVPR}, year={2017}}"""


@dataclasses.dataclass
class OfficeHomeConfig(tfds.core.BuilderConfig):
  """One domain; `classes` is the benchmark's class list (tests pass a subset)."""
  domain: str = ""
  classes: tuple[str, ...] = CLASSES


class OfficeHome(common.ClassFolderDomainBuilder):
  """Office-Home, one domain per config."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [OfficeHomeConfig(name=d, domain=d) for d in DOMAIN_FOLDERS]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Put {ARCHIVE} (from {HOMEPAGE}), or the folder extracted from it, in the "
      "manual folder or its office_home/ subfolder.")
  TITLE, ARCHIVE, SUBFOLDER = "Office-Home", ARCHIVE, "office_home"
  HOMEPAGE, SOURCE, CITATION = HOMEPAGE, HOMEPAGE, CITATION

  def candidates(self) -> list[str]:
    names = DOMAIN_FOLDERS[self.builder_config.domain]
    return [f"{top}{n}/" for top in (f"{TOP}/", "") for n in names]

  def domain_title(self) -> str:
    return f"Office-Home {DOMAIN_FOLDERS[self.builder_config.domain][0]}"


for _domain in DOMAIN_FOLDERS:
  register_domain(Domain(
      f"office_home/{_domain}", OfficeHome, builder_config=_domain,
      train_split="train", test_split="train",
      description=f"Office-Home {DOMAIN_FOLDERS[_domain][0]}. One split, train, serves "
      "as both train and test (the usual protocol: the target's images are its "
      "unlabelled train data and its labelled test data)."))
