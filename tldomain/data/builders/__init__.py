"""TFDS builders; importing this package registers their domains.

`folder:/path/to/root` domains are made on first use (see builders/folder.py).
"""

from tldomain.data.builders import embedded_digits  # noqa: F401
