"""TFDS builders; importing this package registers their domains."""

from tldomain.data.builders import embedded_digits  # noqa: F401
