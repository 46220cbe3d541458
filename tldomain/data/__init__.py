"""Data: TFDS builders per domain and the tf.data pipeline."""

from tldomain.data import builders  # noqa: F401  (registers the domains)
from tldomain.data.domains import DOMAINS, DatasetNotFoundError, Domain, register_domain
from tldomain.data.pipeline import FdaStyle, Split, eval_batches, load_split, train_stream

__all__ = ["DOMAINS", "DatasetNotFoundError", "Domain", "FdaStyle", "Split", "eval_batches",
           "load_split", "register_domain", "train_stream"]
