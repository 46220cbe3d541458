"""What the data package's modules share, in a leaf that imports none of them.

The domain record, the not-found error and the `folder:` prefix are used by
the domain registry (`domains.py`) and by the builders alike; keeping them
here lets builders import them without importing the registry, which itself
imports the folder builder.
"""

import dataclasses

import tensorflow_datasets as tfds

FOLDER_PREFIX = "folder:"


class DatasetNotFoundError(FileNotFoundError):
  """A dataset's files are missing; the message names them and where to put them."""


@dataclasses.dataclass(frozen=True)
class Domain:
  name: str
  builder: type[tfds.core.DatasetBuilder]
  # A config name from the builder's BUILDER_CONFIGS, or a config object.
  builder_config: str | tfds.core.BuilderConfig | None = None
  train_split: str = "train"
  test_split: str = "test"
  description: str = ""
