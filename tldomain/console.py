"""What a run prints: keeps libraries' routine INFO chatter out of the console."""

import logging


class _QuietLibraries(logging.Filter):
  """Drops Orbax's per-save INFO lines; its warnings and errors still show."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or "/orbax/" not in record.pathname


def quiet_library_logs() -> None:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  tfds.disable_progress_bar()
  logging.getLogger("absl").addFilter(_QuietLibraries())
