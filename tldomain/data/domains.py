"""Domains by name: which TFDS builder holds a domain's images, and its splits.

A config names its source and target domains (`data.source = "uci_digits"`);
this table says how to build and read them. Every dataset goes through a TFDS
builder, so all of them share one input pipeline.
"""

import dataclasses
import os
from typing import Any

import tensorflow_datasets as tfds

from tldomain.registry import Registry


class DatasetNotFoundError(FileNotFoundError):
  """A dataset's files are missing; the message names them and where to put them."""


@dataclasses.dataclass(frozen=True)
class Domain:
  name: str
  builder: type[tfds.core.DatasetBuilder]
  builder_config: str | None = None
  train_split: str = "train"
  test_split: str = "test"
  description: str = ""


DOMAINS: Registry[Domain] = Registry("dataset")


def register_domain(domain: Domain) -> Domain:
  return DOMAINS.register(domain.name, domain)


def default_data_dir() -> str:
  return os.environ.get("TLDOMAIN_DATA_DIR",
                        os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def prepared_builder(name: str, data_dir: str | None = None,
                     manual_dir: str | None = None) -> tfds.core.DatasetBuilder:
  """The domain's builder, generating its TFRecords on first use."""
  domain = DOMAINS.get(name)
  kwargs: dict[str, Any] = {"data_dir": data_dir or default_data_dir()}
  if domain.builder_config is not None:
    kwargs["config"] = domain.builder_config
  builder = domain.builder(**kwargs)
  manual_dir = manual_dir or os.environ.get("TLDOMAIN_MANUAL_DIR")
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  return builder
