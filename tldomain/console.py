"""What a run prints: keeps libraries' routine chatter out of the console."""

import logging

from absl import logging as absl_logging

# Library warnings that are routine, not problems: TFDS names each folder
# domain's config and notes its first build; JAX looks for a TPU on every start.
ROUTINE_WARNINGS = (
    "Using custom data configuration",
    "has no dataset_info.json",
    "Unable to initialize backend",
)


class _QuietLibraries(logging.Filter):
  """Keeps INFO lines from tldomain only, and drops the routine library warnings
  above; other library warnings and errors still show.

  Orbax and TFDS log several INFO lines per checkpoint and per split read.
  """

  def filter(self, record: logging.LogRecord) -> bool:
    message = record.getMessage()
    if any(text in message for text in ROUTINE_WARNINGS):
      return False
    return (record.levelno >= logging.WARNING or "/tldomain/" in record.pathname
            or "/experiments/" in record.pathname)


def quiet_library_logs() -> None:
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  tfds.disable_progress_bar()
  quiet = _QuietLibraries()
  logging.getLogger("absl").addFilter(quiet)
  # Other libraries' loggers (JAX's) reach the console through absl's handler.
  absl_logging.get_absl_handler().addFilter(quiet)
