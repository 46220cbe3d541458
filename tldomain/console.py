"""What a run prints: keeps libraries' routine INFO chatter out of the console."""

import logging


class _QuietLibraries(logging.Filter):
  """Keeps INFO lines from tldomain only; libraries' warnings and errors still show.

  Orbax and TFDS log several INFO lines per checkpoint and per split read.
  """

  def filter(self, record: logging.LogRecord) -> bool:
    return (record.levelno >= logging.WARNING or "/tldomain/" in record.pathname
            or "/experiments/" in record.pathname)


def quiet_library_logs() -> None:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  tfds.disable_progress_bar()
  logging.getLogger("absl").addFilter(_QuietLibraries())
