"""Domains by name: which TFDS builder holds a domain's images, and its splits.

A config names its source and target domains (`data.source = "uci_digits"`);
this table says how to build and read them. Every dataset goes through a TFDS
builder, so all of them share one input pipeline.

Besides the registered names, `folder:/path/to/root` names any folder of
`root/<class_name>/<image>` (see `tldomain/data/builders/folder.py`).
"""

import os
from typing import Any

from absl import logging
import tensorflow_datasets as tfds

# DatasetNotFoundError and Domain are re-exported: builders and users import them from here too.
from tldomain.data.core import FOLDER_PREFIX, DatasetNotFoundError, Domain  # noqa: F401
from tldomain.registry import Registry, UnknownNameError


class DomainRegistry(Registry[Domain]):
  """The registered domains, plus `folder:` names, made into domains on first use."""

  def get(self, name: str) -> Domain:
    if name.startswith(FOLDER_PREFIX) and name not in self:
      # Imported on first use: most runs name no folder domain.
      from tldomain.data.builders import folder  # pylint: disable=g-import-not-at-top
      self.register(name, folder.folder_domain(name))
    try:
      return super().get(name)
    except UnknownNameError as e:
      raise UnknownNameError(
          f"{e} Or name a folder of images in class subfolders as "
          f"{FOLDER_PREFIX}/path/to/root.") from None


DOMAINS: DomainRegistry = DomainRegistry("dataset")


def register_domain(domain: Domain) -> Domain:
  return DOMAINS.register(domain.name, domain)


def default_data_dir() -> str:
  return os.environ.get("TLDOMAIN_DATA_DIR",
                        os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def manual_dir_for(builder: tfds.core.DatasetBuilder, manual_dir: str | None = None) -> str:
  """Where manually downloaded files live: the argument, else $TLDOMAIN_MANUAL_DIR,
  else TFDS's default <data dir>/downloads/manual."""
  return os.fspath(manual_dir or os.environ.get("TLDOMAIN_MANUAL_DIR")
                   or os.path.join(os.fspath(builder.data_dir_root), "downloads", "manual"))


def prepare(builder: tfds.core.DatasetBuilder, manual_dir: str | None = None
            ) -> tfds.core.DatasetBuilder:
  """Generates the builder's TFRecords on first use, or again when they no longer
  match their source files.

  Builders may define `stale_reason(manual_dir) -> str | None` (say why prepared
  data must be rebuilt: a folder domain's files changed, a missing split's files
  appeared) and `unavailable_splits(manual_dir) -> {split: reason}` (splits that
  cannot be built; asking `info.splits` about one raises DatasetNotFoundError
  with the reason).
  """
  manual_dir = manual_dir_for(builder, manual_dir)
  mode = tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
  stale_reason = getattr(builder, "stale_reason", None)
  if stale_reason is not None and builder.is_prepared():
    reason = stale_reason(manual_dir)
    if reason:
      logging.info("Rebuilding %s in %s: %s.", builder.name, builder.data_dir, reason)
      mode = tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=manual_dir, download_mode=mode,
      try_download_gcs=False))  # Never TFDS's GCS mirror: we build from the release.
  unavailable_splits = getattr(builder, "unavailable_splits", None)
  if unavailable_splits is not None:
    builder.info.unavailable = unavailable_splits(manual_dir)
  return builder


def prepared_builder(name: str, data_dir: str | None = None,
                     manual_dir: str | None = None) -> tfds.core.DatasetBuilder:
  """The domain's builder, generating its TFRecords on first use."""
  domain = DOMAINS.get(name)
  kwargs: dict[str, Any] = {"data_dir": data_dir or default_data_dir()}
  if domain.builder_config is not None:
    kwargs["config"] = domain.builder_config
  return prepare(domain.builder(**kwargs), manual_dir)
