"""TFDS builders; importing this package registers their domains.

`folder:/path/to/root` domains are made on first use (see builders/folder.py).
"""

from tldomain.data.builders import domainnet  # noqa: F401
from tldomain.data.builders import embedded_digits  # noqa: F401
from tldomain.data.builders import mnist  # noqa: F401
from tldomain.data.builders import mnist_m  # noqa: F401
from tldomain.data.builders import office31  # noqa: F401
from tldomain.data.builders import office_home  # noqa: F401
from tldomain.data.builders import pacs  # noqa: F401
from tldomain.data.builders import svhn  # noqa: F401
from tldomain.data.builders import usps  # noqa: F401
from tldomain.data.builders import visda2017  # noqa: F401
