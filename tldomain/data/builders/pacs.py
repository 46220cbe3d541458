"""PACS (Li et al., ICCV 2017): 7 classes (dog, elephant, giraffe, guitar, horse,
house, person) in four domains, photo (1670 images), art_painting (2048),
cartoon (2344) and sketch (3929).

Read from either layout, in the manual folder or its pacs/ subfolder:
- class folders `<domain>/<class>/<image>`: one split, `train`;
- the official release: the `kfold/<domain>/<class>/<image>` folders with the
  split lists `<domain>_train_kfold.txt`, `<domain>_crossval_kfold.txt` and
  `<domain>_test_kfold.txt` (beside kfold/, inside it, or in a splits/ folder),
  lines `<domain>/<class>/<image> <label>` with labels counted from 1 in the
  sorted class order. Split `train` is every listed image of the domain (the
  usual domain-adaptation protocol), `kfold_train`, `kfold_crossval` and
  `kfold_test` are the lists themselves (the domain-generalisation protocol).

The release is a Google Drive folder, so it is never downloaded here. Every
domain has the same class index; a domain with missing or extra classes, a label
that disagrees with its class folder, or an image that does not decode stops the
build naming it (TLDOMAIN_SKIP_CORRUPT_IMAGES=1 skips such images instead; the
official sketch/dog/n02103406_4068-1.png is known not to decode).
"""

import dataclasses
import os

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import Domain
from tldomain.data.domains import register_domain

HOMEPAGE = "https://domaingeneralization.github.io/"
SOURCE = f"{HOMEPAGE} (the Google Drive folder it links to)"
DOMAIN_NAMES = ("photo", "art_painting", "cartoon", "sketch")
CLASSES = ("dog", "elephant", "giraffe", "guitar", "horse", "house", "person")
LIST_SPLITS = {"kfold_train": "train", "kfold_crossval": "crossval", "kfold_test": "test"}
CITATION = """@inproceedings{li2017deeper,
  title={Deeper, broader and artier domain generalization},
  author={Li, Da and Yang, Yongxin and Song, Yi-Zhe and Hospedales, Timothy M},
  booktitle={ICCV}, year={2017}}"""


def list_name(domain: str, split: str) -> str:
  return f"{domain}_{split}_kfold.txt"


@dataclasses.dataclass
class PacsConfig(tfds.core.BuilderConfig):
  """One domain; `classes` is the benchmark's class list (tests pass a subset)."""
  domain: str = ""
  classes: tuple[str, ...] = CLASSES


class Pacs(common.ImageFilesBuilder):
  """PACS, one domain per config."""

  VERSION = tfds.core.Version("1.0.0")
  BUILDER_CONFIGS = [PacsConfig(name=d, domain=d) for d in DOMAIN_NAMES]
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      f"Put PACS (from {SOURCE}) in the manual folder or its pacs/ subfolder: the "
      "official kfold/ folder with its *_kfold.txt lists, or <domain>/<class>/ folders.")

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__, features=common.image_features(
            self.builder_config.classes),
        supervised_keys=("image", "label"), homepage=HOMEPAGE, citation=CITATION)

  def title(self) -> str:
    return f"PACS {self.builder_config.domain}"

  def expected(self) -> list[str]:
    domain = self.builder_config.domain
    lists = ", ".join(list_name(domain, s) for s in LIST_SPLITS.values())
    return [f"kfold/{domain}/<class>/<image> with {lists}", f"or {domain}/<class>/<image>"]

  def find_lists(self, folder: str) -> dict[str, str] | None:
    """The official split lists of this domain near `folder`/kfold, if all three are."""
    domain = self.builder_config.domain
    for where in (folder, os.path.join(folder, "kfold"), os.path.join(folder, "splits")):
      paths = {split: os.path.join(where, list_name(domain, name))
               for split, name in LIST_SPLITS.items()}
      if all(os.path.isfile(p) for p in paths.values()):
        return paths
    return None

  def _split_generators(self, dl_manager):
    folders = common.search_folders(common.manual_folder(dl_manager), "pacs")
    domain = self.builder_config.domain
    for folder in folders:
      images = os.path.join(folder, "kfold", domain)
      lists = self.find_lists(folder)
      if os.path.isdir(images) and lists:
        return self.official_splits(common.FolderRelease(os.path.join(folder, "kfold")), lists)
      if os.path.isdir(os.path.join(folder, domain)):
        release = common.FolderRelease(os.path.join(folder, domain), f"{domain}/")
        return {"train": self.class_folder_split(release)}
    raise common.missing_files_error(self.title(), self.expected(), folders, SOURCE)

  def class_folder_split(self, release: common.Release):
    domain, classes = self.builder_config.domain, self.builder_config.classes
    where = release.where(f"{domain}/")
    items = common.class_folder_items(release, f"{domain}/")
    common.check_classes(self.title(), {c for _, c in items}, classes, where)
    return self._generate_examples(self.title(), release, items, where, classes)

  def official_splits(self, release: common.Release, lists: dict[str, str]):
    """`train` (all listed images) and the three kfold lists, labels checked."""
    classes = self.builder_config.classes
    splits, every = {}, {}
    for split, path in lists.items():
      with open(path, encoding="utf-8") as f:
        entries = common.parse_image_list(f.read(), path)
      # The lists count from 1 in the official class order; check_listed_labels
      # wants the 0-based index. Items carry class names, which `classes` indexes.
      entries = [(name.lstrip("/"), label - 1) for name, label in entries]
      items = common.check_listed_labels(self.title(), entries, CLASSES, path)
      splits[split] = self._generate_examples(self.title(), release, items, path, classes)
      every.update(items)
    where = " + ".join(lists.values())
    splits["train"] = self._generate_examples(self.title(), release, sorted(every.items()),
                                              where, classes)
    return splits


for _domain in DOMAIN_NAMES:
  register_domain(Domain(
      f"pacs/{_domain}", Pacs, builder_config=_domain, train_split="train",
      test_split="train",
      description=f"PACS {_domain}. Split train (every image of the domain) serves as "
      "both train and test, the usual domain-adaptation protocol; the official "
      "release also gives kfold_train, kfold_crossval and kfold_test."))
