"""Any folder of images in class subfolders, `root/<class_name>/<image>`, as a
domain named `folder:/path/to/root` in a config.

The classes are the subfolder names, sorted: label i is the i-th name, so two
folders with the same class subfolders share one class index. A class folder
without images, or a root without class folders, is an error; files outside
class folders are ignored. One split, `train`, serves as both train and test.

The TFDS data lives in <data dir>/folder_domain/<name>_<hash>/, where the hash
covers the root's real path and its class list: two different roots never
share data. It is rebuilt when the folder's images change (names, sizes or
modification times).
"""

import dataclasses
import hashlib
import os
import re

import tensorflow_datasets as tfds

from tldomain.data.builders import common
from tldomain.data.core import FOLDER_PREFIX, DatasetNotFoundError, Domain

LAYOUT = "root/<class_name>/<image>"


def class_names(root: str) -> list[str]:
  """The class subfolders of `root`, sorted."""
  return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


@dataclasses.dataclass
class FolderConfig(tfds.core.BuilderConfig):
  root: str = ""  # real path of the folder
  classes: tuple[str, ...] = ()


def folder_config(root: str) -> FolderConfig:
  """A config keyed by the root's real path and its class list."""
  real = os.path.realpath(os.path.expanduser(root))
  if not os.path.isdir(real):
    raise DatasetNotFoundError(
        f"{FOLDER_PREFIX}{root}: {real} is not a folder. A folder domain is a folder of "
        f"images in class subfolders, {LAYOUT}.")
  classes = tuple(class_names(real))
  digest = hashlib.sha256("\n".join((real,) + classes).encode()).hexdigest()[:16]
  base = re.sub(r"[^a-z0-9]+", "_", os.path.basename(real).lower()).strip("_")[:40]
  return FolderConfig(name=f"{base or 'root'}_{digest}", root=real, classes=classes,
                      description=f"Images in class subfolders of {real}.")


def folder_domain(name: str) -> Domain:
  """The domain for a `folder:/path/to/root` name."""
  root = name[len(FOLDER_PREFIX):]
  if not root:
    raise DatasetNotFoundError(f"{name!r} names no folder; write {FOLDER_PREFIX}/path/to/root.")
  config = folder_config(root)
  return Domain(name, FolderDomain, builder_config=config, train_split="train",
                test_split="train",
                description=f"Images in class subfolders of {config.root}. One split, "
                "train, serves as both train and test.")


def fingerprint(release: common.Release) -> str:
  """Changes when an image file is added, removed, resized or touched."""
  digest = hashlib.sha256()
  for name in release.names():
    stat = os.stat(release.where(name))
    digest.update(f"{name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
  return digest.hexdigest()


class FolderDomain(common.ImageFilesBuilder):
  """Images in class subfolders of one folder."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self, description=__doc__,
        features=common.image_features(self.builder_config.classes),
        supervised_keys=("image", "label"), metadata=tfds.core.MetadataDict())

  def release(self) -> common.FolderRelease:
    return common.FolderRelease(self.builder_config.root)

  def stale_reason(self, manual_dir: str) -> str | None:
    del manual_dir
    if self.info.metadata.get("fingerprint") != fingerprint(self.release()):
      return f"the images in {self.builder_config.root} changed"
    return None

  def _split_generators(self, dl_manager):
    del dl_manager
    root, classes = self.builder_config.root, self.builder_config.classes
    release = self.release()
    title = f"{FOLDER_PREFIX}{root}"
    self.info.metadata["fingerprint"] = fingerprint(release)
    items = [(n, c) for n, c in common.class_folder_items(release, "") if c in classes]
    common.check_classes(title, {c for _, c in items}, classes, f"{root} ({LAYOUT})")
    return {"train": self._generate_examples(title, release, items, root, classes)}
